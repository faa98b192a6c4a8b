/**
 * Cloudinary's Upload and Admin API endpoints (upload-api.md "Endpoints"), in an encapsulated
 * plugin: the multipart and form parsers exist only here, so delivery routes never parse a body.
 * Errors keep the shape of every other route: `{"error":{"message":…}}`, status from the table.
 */
import querystring from 'node:querystring';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { Errors } from '../errors.ts';
import { checkBasicAuth, type Params } from '../upload/auth.ts';
import type { Api, UploadedFile } from '../upload/service.ts';

type Fields = Record<string, string>;

/** A form's fields as strings; `a[]` style arrays are joined with commas (the SDKs' encoding). */
function flatten(o: Record<string, unknown>): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(o)) {
    const key = k.endsWith('[]') ? k.slice(0, -2) : k;
    const vals = Array.isArray(v) ? v : [v];
    out[key] = vals.map((x) => (x === null || x === undefined ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  }
  return out;
}

export function apiRoutes(app: FastifyInstance, api: Api): void {
  const { config } = app;
  const originOf = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
  const checkCloud = (cloud: string) => {
    if (cloud !== config.cloudName) throw new Errors.UNAUTHORIZED(`Invalid cloud_name ${cloud.slice(0, 64)}`);
  };
  // base64 grows a data: URI by a third; the rest is room for the other fields.
  const bodyLimit = Math.ceil(config.maxUploadBytes * 4 / 3) + 1024 * 1024;

  void app.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: config.maxUploadBytes, files: 1, fields: 200, fieldSize: bodyLimit, parts: 201 } });
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
      done(null, querystring.parse(body as string));
    });

    /** The call's parameters (query, then body) and its file part, if any. */
    async function readParams(req: FastifyRequest): Promise<{ params: Params; file?: UploadedFile }> {
      const params: Fields = flatten((req.query ?? {}) as Record<string, unknown>);
      let file: UploadedFile | undefined;
      if (req.isMultipart()) {
        try {
          for await (const part of req.parts()) {
            if (part.type === 'file') {
              if (part.fieldname !== 'file') throw new Errors.BAD_API_PARAM(`Unexpected file field ${part.fieldname.slice(0, 32)}`);
              file = { bytes: await part.toBuffer(), ...(part.filename && part.filename !== 'file' && part.filename !== 'blob' ? { filename: part.filename } : {}) };
            } else {
              const k = part.fieldname.endsWith('[]') ? part.fieldname.slice(0, -2) : part.fieldname;
              const v = String(part.value);
              params[k] = params[k] !== undefined && part.fieldname.endsWith('[]') ? `${params[k]},${v}` : v;
            }
          }
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'FST_REQ_FILE_TOO_LARGE') throw new Errors.TOO_LARGE(`the file is over the upload limit of ${config.maxUploadBytes} bytes (APERTURE_MAX_UPLOAD_BYTES)`);
          if (code?.startsWith('FST_')) throw new Errors.BAD_API_PARAM(`Malformed multipart body: ${(e as Error).message}`);
          throw e;
        }
      } else if (req.body && typeof req.body === 'object') {
        Object.assign(params, flatten(req.body as Record<string, unknown>));
      }
      return { params, ...(file ? { file } : {}) };
    }

    const post = { bodyLimit };
    scope.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/upload', post, async (req, reply) => {
      checkCloud(req.params.cloud);
      const { params, file } = await readParams(req);
      return reply.header('Cache-Control', 'no-store').send(await api.upload(params, file, originOf(req)));
    });
    scope.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/explicit', post, async (req, reply) => {
      checkCloud(req.params.cloud);
      return reply.header('Cache-Control', 'no-store').send(await api.explicit((await readParams(req)).params, originOf(req)));
    });
    scope.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/rename', post, async (req, reply) => {
      checkCloud(req.params.cloud);
      return reply.header('Cache-Control', 'no-store').send(await api.rename((await readParams(req)).params, originOf(req)));
    });
    scope.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/destroy', post, async (req, reply) => {
      checkCloud(req.params.cloud);
      return reply.header('Cache-Control', 'no-store').send(await api.destroy((await readParams(req)).params));
    });

    // Admin API: HTTP Basic api_key:api_secret.
    const admin = (req: FastifyRequest<{ Params: { cloud: string } }>) => {
      checkCloud(req.params.cloud);
      checkBasicAuth(req.headers.authorization, { apiKey: config.apiKey, secret: config.secret });
    };
    const list = async (req: FastifyRequest<{ Params: { cloud: string; tag?: string } }>) => {
      admin(req);
      const q = flatten((req.query ?? {}) as Record<string, unknown>);
      return api.list({ ...q, ...(req.params.tag ? { tag: req.params.tag } : {}) }, originOf(req));
    };
    scope.get('/v1_1/:cloud/resources/image', list);
    scope.get('/v1_1/:cloud/resources/image/upload', list);
    scope.get('/v1_1/:cloud/resources/image/tags/:tag', list);
    scope.get<{ Params: { cloud: string; '*': string } }>('/v1_1/:cloud/resources/image/upload/*', async (req) => {
      admin(req);
      return api.resource(decodeURIComponent(req.params['*']), originOf(req));
    });
    scope.delete<{ Params: { cloud: string } }>('/v1_1/:cloud/resources/image/upload', async (req) => {
      admin(req);
      // Ids may hold commas: read `public_ids[]` as the list it is, not the flattened text.
      const raw = { ...(req.query as Record<string, unknown>), ...(req.body && typeof req.body === 'object' ? req.body as Record<string, unknown> : {}) };
      const given = raw['public_ids[]'] ?? raw.public_ids;
      const ids = (Array.isArray(given) ? given : given === undefined ? [] : [given]).map(String).filter(Boolean);
      const prefix = raw.prefix === undefined ? undefined : String(raw.prefix);
      return api.deleteResources(ids, prefix);
    });
  });
}
