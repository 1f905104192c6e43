/**
 * OpenID Connect for a cluster's Kubernetes API (`cloud.kube.OpenIdConnect`): the stored model,
 * its validation and the kube-apiserver flags it becomes (applied by the reconciler with the
 * admission plugins' flags). Pure.
 */
import { invalid } from '../errors.ts';

export const OIDC_SIGNING_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const;

export interface OpenIdConnect {
  readonly clientId: string;
  readonly issuerUrl: string;
  readonly usernameClaim: string;
  readonly usernamePrefix: string;
  readonly groupsClaim: readonly string[];
  readonly groupsPrefix: string;
  readonly requiredClaim: readonly string[];
  readonly signingAlgorithms: readonly string[];
  /** Base64 of the PEM CA that signs the issuer's certificate; '' when the system's CAs do. */
  readonly caContent: string;
}

export type OpenIdConnectInput = {
  [K in keyof OpenIdConnect]?: (OpenIdConnect[K] extends string ? string : string[]) | null;
};

const optionalText = { type: ['string', 'null'], maxLength: 1024 } as const;
const optionalList = {
  type: ['array', 'null'],
  items: { type: 'string', maxLength: 256 },
  maxItems: 32,
} as const;

/** `cloud.ProjectKubeOpenIdConnectCreation` / `…Update`. */
export const openIdConnectSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['clientId', 'issuerUrl'],
  properties: {
    clientId: { type: 'string', maxLength: 256 },
    issuerUrl: { type: 'string', maxLength: 1024, description: 'https URL of the issuer' },
    usernameClaim: optionalText,
    usernamePrefix: optionalText,
    groupsClaim: optionalList,
    groupsPrefix: optionalText,
    requiredClaim: { ...optionalList, description: 'key=value claims every token must carry' },
    signingAlgorithms: {
      type: ['array', 'null'],
      items: { type: 'string', enum: [...OIDC_SIGNING_ALGORITHMS] },
      maxItems: OIDC_SIGNING_ALGORITHMS.length,
    },
    caContent: { type: ['string', 'null'], maxLength: 65_536, description: 'Base64 of a PEM CA certificate' },
  },
} as const;

/** `cloud.kube.OpenIdConnect`, for the OpenAPI document. */
export const openIdConnectResponseSchema = {
  type: 'object',
  description: 'cloud.kube.OpenIdConnect',
  properties: {
    clientId: { type: 'string' },
    issuerUrl: { type: 'string' },
    usernameClaim: { type: 'string' },
    usernamePrefix: { type: 'string' },
    groupsClaim: { type: 'array', items: { type: 'string' } },
    groupsPrefix: { type: 'string' },
    requiredClaim: { type: 'array', items: { type: 'string' } },
    signingAlgorithms: { type: 'array', items: { type: 'string' } },
    caContent: { type: 'string' },
  },
} as const;

/** The stored configuration: validated, every field present ('' and [] where not set). */
export function openIdConnectOf(input: OpenIdConnectInput): OpenIdConnect {
  const text = (value: string | string[] | null | undefined) => (typeof value === 'string' ? value : '');
  const list = (value: string | string[] | null | undefined) => (Array.isArray(value) ? value : []);
  const oidc: OpenIdConnect = {
    clientId: text(input.clientId),
    issuerUrl: text(input.issuerUrl),
    usernameClaim: text(input.usernameClaim),
    usernamePrefix: text(input.usernamePrefix),
    groupsClaim: list(input.groupsClaim),
    groupsPrefix: text(input.groupsPrefix),
    requiredClaim: list(input.requiredClaim),
    signingAlgorithms: list(input.signingAlgorithms),
    caContent: text(input.caContent),
  };
  if (oidc.clientId.trim() === '') throw invalid('clientId: must not be empty');
  let issuer: URL | undefined;
  try {
    issuer = new URL(oidc.issuerUrl);
  } catch {
    issuer = undefined;
  }
  if (issuer?.protocol !== 'https:' || issuer.search !== '' || issuer.hash !== '') {
    throw invalid(
      `issuerUrl: '${oidc.issuerUrl}' is not an https URL without query or fragment (kube-apiserver's --oidc-issuer-url)`,
    );
  }
  for (const claim of oidc.requiredClaim) {
    if (!/^[^=,\s]+=[^,\s]*$/.test(claim)) throw invalid(`requiredClaim: '${claim}' is not key=value`);
  }
  for (const claim of [...oidc.groupsClaim, oidc.usernameClaim]) {
    if (/[,\s]/.test(claim)) throw invalid(`'${claim}': a claim name has no comma or space`);
  }
  if (oidc.caContent !== '') {
    const pem = Buffer.from(oidc.caContent, 'base64').toString('utf8');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(oidc.caContent) || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw invalid('caContent: not the base64 of a PEM certificate (-----BEGIN CERTIFICATE-----)');
    }
  }
  return oidc;
}

/** The path mks writes `caContent` to on the emulated control plane. */
export const OIDC_CA_FILE = '/etc/kubernetes/pki/oidc-ca.crt';

/** kube-apiserver's `--oidc-*` flags for the configuration, sorted; none without one. */
export function renderOidcFlags(oidc: OpenIdConnect | null): string[] {
  if (oidc === null) return [];
  const flags = [`--oidc-client-id=${oidc.clientId}`, `--oidc-issuer-url=${oidc.issuerUrl}`];
  if (oidc.usernameClaim !== '') flags.push(`--oidc-username-claim=${oidc.usernameClaim}`);
  if (oidc.usernamePrefix !== '') flags.push(`--oidc-username-prefix=${oidc.usernamePrefix}`);
  if (oidc.groupsClaim.length > 0) flags.push(`--oidc-groups-claim=${oidc.groupsClaim.join(',')}`);
  if (oidc.groupsPrefix !== '') flags.push(`--oidc-groups-prefix=${oidc.groupsPrefix}`);
  for (const claim of oidc.requiredClaim) flags.push(`--oidc-required-claim=${claim}`);
  if (oidc.signingAlgorithms.length > 0)
    flags.push(`--oidc-signing-algs=${oidc.signingAlgorithms.join(',')}`);
  if (oidc.caContent !== '') flags.push(`--oidc-ca-file=${OIDC_CA_FILE}`);
  return flags.sort();
}
