import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Application } from 'express';
import { AppConfig } from './config/app-config';

/** HTTP concerns shared by main.ts and the e2e tests. */
export function setupApp(app: INestApplication): void {
  app.enableShutdownHooks();
  // Which X-Forwarded-For hops to believe for req.ip: the client the public rate limits count.
  (app.getHttpAdapter().getInstance() as Application).set('trust proxy', app.get(AppConfig).http.trustProxy);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('ShoktiAI SmartEngage')
      .setDescription(
        'Personalised Bengali reminders for home-services customers. Admin routes take `Authorization: Bearer <ADMIN_API_KEYS key>`.',
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
