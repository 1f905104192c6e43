/**
 * Code samples for one call, filled from the explorer's form and pointing at this endpoint. Pure
 * (no DOM), so test/console/samples.test.ts runs them: the mks CLI line, the curl signing script
 * and the node `ovh` program are executed against a live mks; the go-ovh and Terraform ones are
 * printed from the same values.
 */
export interface SampleInput {
  /** The API endpoint, `…/1.0`. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly method: string;
  /** Below the endpoint, query string included. */
  readonly path: string;
  /** JSON text, or '' for none. */
  readonly body: string;
}

/** Quotes a word for sh: inside single quotes everything is literal but `'` itself. */
export const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

export function codeSamples(input: SampleInput): [label: string, code: string][] {
  const { endpoint, host, port, method, path, body } = input;
  return [
    ['mks CLI', `mks api ${method} ${shellQuote(path)}${body === '' ? '' : ` --data ${shellQuote(body)}`}`],
    [
      'curl (signing script)',
      [
        '#!/bin/sh',
        '# Needs OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY in the environment.',
        `URL=${shellQuote(`${endpoint}${path}`)}`,
        `BODY=${shellQuote(body)}`,
        `TS=$(curl -s ${shellQuote(`${endpoint}/auth/time`)})`,
        `SIG='$1$'$(printf '%s' "$OVH_APPLICATION_SECRET+$OVH_CONSUMER_KEY+${method}+$URL+$BODY+$TS" | sha1sum | cut -d' ' -f1)`,
        `curl -s -X ${method} "$URL" -H 'Content-Type: application/json' \\`,
        '  -H "X-Ovh-Application: $OVH_APPLICATION_KEY" -H "X-Ovh-Consumer: $OVH_CONSUMER_KEY" \\',
        `  -H "X-Ovh-Timestamp: $TS" -H "X-Ovh-Signature: $SIG"${body === '' ? '' : ' --data "$BODY"'}`,
      ].join('\n'),
    ],
    [
      'node (ovh)',
      [
        "import ovhFactory from 'ovh';",
        '// The ovh package speaks HTTPS only (mks serve --tls; NODE_EXTRA_CA_CERTS for its local CA).',
        `const ovh = ovhFactory({ host: ${JSON.stringify(host)}, port: ${port}, basePath: '/1.0',`,
        '  appKey: process.env.OVH_APPLICATION_KEY, appSecret: process.env.OVH_APPLICATION_SECRET,',
        '  consumerKey: process.env.OVH_CONSUMER_KEY });',
        `console.log(JSON.stringify(await ovh.requestPromised(${JSON.stringify(method)}, ${JSON.stringify(path)}${body === '' ? '' : `, ${body}`})));`,
      ].join('\n'),
    ],
    [
      'go (go-ovh)',
      [
        `client, err := ovh.NewClient(${JSON.stringify(endpoint)}, os.Getenv("OVH_APPLICATION_KEY"), os.Getenv("OVH_APPLICATION_SECRET"), os.Getenv("OVH_CONSUMER_KEY"))`,
        'var result any',
        `err = client.CallAPI(${JSON.stringify(method)}, ${JSON.stringify(path)}, ${body === '' ? 'nil' : `json.RawMessage(${JSON.stringify(body)})`}, &result, true)`,
      ].join('\n'),
    ],
    [
      'Terraform',
      `provider "ovh" {\n  endpoint = ${JSON.stringify(endpoint)}\n  # keys from OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY\n}`,
    ],
  ];
}
