import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Application } from 'express';
import { ErrorResponseDto } from './common/error-response.dto';
import { AppConfig } from './config/app-config';

/** HTTP concerns shared by main.ts and the e2e tests. */
export function setupApp(app: INestApplication): void {
  // Which X-Forwarded-For hops to believe for req.ip: the client the public rate limits count.
  (app.getHttpAdapter().getInstance() as Application).set('trust proxy', app.get(AppConfig).http.trustProxy);
  const document = createOpenApiDocument(app, app.get(AppConfig).links.publicBaseUrl);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

/** The OpenAPI document served at /docs-json; scripts/openapi-types.ts builds it without a database. */
export function createOpenApiDocument(app: INestApplication, publicBaseUrl: string): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('ShoktiAI SmartEngage')
      .setDescription(
        'Personalised Bengali reminders for home-services customers. Admin routes take `Authorization: Bearer <ADMIN_API_KEYS key>`.',
      )
      .setVersion('0.1.0')
      // A local PUBLIC_BASE_URL (the development default) names no deployment: then the serving host is the server.
      .addServer(isLocal(publicBaseUrl) ? '/' : publicBaseUrl, 'PUBLIC_BASE_URL of this deployment')
      // package.json's licence: proprietary, none granted (the rule wants a URL; npm's says what UNLICENSED means).
      .setLicense('UNLICENSED', 'https://docs.npmjs.com/cli/configuring-npm/package-json#license')
      .addBearerAuth()
      // True of every route; a route's own 400 (naming its fields) takes precedence.
      .addGlobalResponse(
        {
          status: 400,
          description: 'MALFORMED_JSON or VALIDATION_FAILED: a body that is not JSON, or a path parameter that does not decode',
          type: ErrorResponseDto,
        },
        { status: 'default', description: 'Any other error (e.g. 500 INTERNAL_ERROR), in the common error shape', type: ErrorResponseDto },
      )
      .build(),
  );
}

function isLocal(url: string): boolean {
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}
