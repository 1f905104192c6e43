/** Types of scripts/build.js (plain JavaScript, so that bin/mks.js needs no TypeScript loader). */
export declare const ROOT: string;
export declare const DIST: string;
export declare const INPUTS: readonly string[];
export declare const ENTRIES: Readonly<Record<string, string>>;
export interface BuildPlace {
  /** Where the bundles and their stamp go (default dist/). */
  readonly outdir?: string;
}
export declare function mksNodeFlags(): string[];
export declare function mksEnvironment(): Readonly<Record<string, string>>;
export declare function assignments(words: readonly string[]): Record<string, string>;
export declare function isCurrent(
  options?: BuildPlace & { readonly root?: string; readonly inputs?: readonly string[] },
): boolean;
export declare function build(
  options?: BuildPlace & { readonly entries?: Readonly<Record<string, string>> },
): Promise<void>;
