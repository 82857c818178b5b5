import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** HTTP concerns shared by main.ts and the e2e tests. */
export function setupApp(app: INestApplication): void {
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
