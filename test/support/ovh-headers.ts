import { signRequest } from '../../src/auth/authenticator.ts';
import type { OvhCredentials } from '../../src/client/ovh-conf.ts';

/** The OVH signature headers of a request, as a client holding `credentials` sends them. */
export function ovhAuthHeaders(
  credentials: OvhCredentials,
  method: string,
  url: string,
  body = '',
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  return {
    'X-Ovh-Application': credentials.applicationKey,
    'X-Ovh-Consumer': credentials.consumerKey,
    'X-Ovh-Timestamp': String(timestamp),
    'X-Ovh-Signature': signRequest({
      secret: credentials.applicationSecret,
      consumerKey: credentials.consumerKey,
      method,
      url,
      body,
      timestamp,
    }),
  };
}
