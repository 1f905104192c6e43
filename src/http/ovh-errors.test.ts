/** The error catalogue and its one rendering: every error becomes a catalogue error first. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import pino from 'pino';
import { AppError, AUTH_ERROR_CODES, AuthError, ERROR_KINDS, invalid } from '../errors.ts';
import { errorBody, handleError, toCatalogueError } from './ovh-errors.ts';

const QUERY_ID = 'EU.ext-mks.test.1';

const fastifyError = (code: string, statusCode: number, message: string) =>
  Object.assign(new Error(message), { code, statusCode });

describe('error catalogue', () => {
  test('catalogue errors pass through as thrown', () => {
    const business = invalid('name: too long');
    const auth = new AuthError('NOT_GRANTED_CALL', 'This call has not been granted');
    assert.equal(toCatalogueError(business, QUERY_ID), business);
    assert.equal(toCatalogueError(auth, QUERY_ID), auth);
    assert.deepEqual(errorBody(business), { class: 'Client::BadRequest', message: 'name: too long' });
    assert.deepEqual(errorBody(auth), {
      errorCode: 'NOT_GRANTED_CALL',
      httpCode: '403 Forbidden',
      message: 'This call has not been granted',
    });
  });

  test('errors from fastify, ajv and the database become catalogue errors with their status and class', () => {
    const cases: Array<[unknown, number, Record<string, unknown>]> = [
      [
        Object.assign(new Error('body/name must be string'), {
          validation: [
            { keyword: 'type', instancePath: '/name', params: { type: 'string' }, data: 5, message: 'x' },
          ],
          validationContext: 'body',
        }),
        400,
        { class: 'Client::BadRequest', message: 'name: 5 has the wrong type; expected string' },
      ],
      [
        fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'),
        413,
        { class: 'Client::RequestEntityTooLarge', message: 'Request body is too large' },
      ],
      [
        fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type'),
        415,
        { class: 'Client::UnsupportedMediaType', message: 'Send request bodies as application/json' },
      ],
      [
        fastifyError('FST_ERR_BAD_URL', 400, "'/1.0/%E0' is not a valid url component"),
        400,
        { class: 'Client::BadRequest', message: "'/1.0/%E0' is not a valid url component" },
      ],
      [
        // A client error whose status the catalogue has no kind for is a BadRequest.
        fastifyError('FST_ERR_MAX_PARAM_LENGTH', 414, "'/1.0/x' is exceeding the max param length"),
        400,
        { class: 'Client::BadRequest', message: "'/1.0/x' is exceeding the max param length" },
      ],
      [
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
        503,
        {
          class: 'Server::ServiceUnavailable',
          message: `The service is temporarily unavailable (its database cannot be reached); retry shortly (query id ${QUERY_ID})`,
        },
      ],
      [
        new Error('Connection terminated unexpectedly'),
        503,
        {
          class: 'Server::ServiceUnavailable',
          message: `The service is temporarily unavailable (its database cannot be reached); retry shortly (query id ${QUERY_ID})`,
        },
      ],
      [
        new TypeError("Cannot read properties of undefined (reading 'secret')"),
        500,
        { class: 'Server::InternalServerError', message: `Internal server error (query id ${QUERY_ID})` },
      ],
    ];
    for (const [error, status, body] of cases) {
      const refusal = toCatalogueError(error, QUERY_ID);
      assert.equal(refusal.status, status, String(error));
      assert.deepEqual(errorBody(refusal), body);
      assert.equal((refusal as Error).cause ?? refusal, error, 'the original error stays the cause');
    }
  });

  test('an unknown error answers 500 with the query id, and is logged at error with the query id', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const app = Fastify({
      loggerInstance: pino({ level: 'info' }, stream) as FastifyBaseLogger,
      logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'queryId' }),
      genReqId: () => QUERY_ID,
      frameworkErrors: handleError,
    });
    app.setErrorHandler(handleError);
    app.get('/boom', async () => {
      throw new Error('secret detail of a bug');
    });
    app.get('/clusters/:id', async () => 'never');
    try {
      const response = await app.inject({ method: 'GET', url: '/boom' });
      assert.equal(response.statusCode, 500);
      assert.deepEqual(response.json(), {
        class: 'Server::InternalServerError',
        message: `Internal server error (query id ${QUERY_ID})`,
      });
      assert.equal(response.headers['x-ovh-queryid'], QUERY_ID);
      const logged = lines.find((line) => line.msg === 'Request failed');
      assert.equal(logged?.level, 50);
      assert.equal(logged?.queryId, QUERY_ID);
      assert.match(String((logged?.err as { message?: string } | undefined)?.message), /secret detail/);

      // fastify refuses a bad URL before routing: the answer is still OVH's body, with the query id.
      const badUrl = await app.inject({ method: 'GET', url: '/clusters/%E0%A4%A' });
      assert.equal(badUrl.statusCode, 400);
      assert.equal(badUrl.json().class, 'Client::BadRequest');
      assert.equal(badUrl.headers['x-ovh-queryid'], QUERY_ID);
    } finally {
      await app.close();
    }
  });

  test('docs/errors.md documents every code with its status and class', () => {
    const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const rows = new Map(
      [...doc.matchAll(/^\|\s*`([A-Za-z_]+)`\s*\|\s*(\d{3})\s*\|(?:\s*`([A-Za-z:]+)`\s*\|)?/gm)].map(
        (match) => [match[1], { status: Number(match[2]), ovhClass: match[3] }],
      ),
    );
    for (const [kind, { status, ovhClass }] of Object.entries(ERROR_KINDS)) {
      assert.deepEqual(rows.get(kind), { status, ovhClass }, kind);
      assert.equal(new AppError(kind as keyof typeof ERROR_KINDS, 'm').status, status);
    }
    for (const [code, { status }] of Object.entries(AUTH_ERROR_CODES)) {
      assert.deepEqual(rows.get(code), { status, ovhClass: undefined }, code);
    }
    assert.equal(rows.size, Object.keys(ERROR_KINDS).length + Object.keys(AUTH_ERROR_CODES).length);
  });
});
