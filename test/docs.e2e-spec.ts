import { createTestApp, TestApp } from './support/test-app';

describe('API documentation', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('serves Swagger UI at /docs and an OpenAPI document documenting every route with examples', async () => {
    await t.http().get('/docs').expect(200).expect('Content-Type', /html/);
    const { body } = await t.http().get('/docs-json').expect(200);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/admin/smartengage/send-single', '/admin/smartengage/send-bulk', '/unsubscribe/{token}']),
    );
    const single = body.components.schemas.SendSingleRequestDto;
    expect(single.required).toEqual(expect.arrayContaining(['customer_id', 'message_type']));
    expect(single.properties.customer_id.example).toBe('229211b0-9cf4-4e36-b707-d593034bfb0f');
    expect(body.paths['/admin/smartengage/send-single'].post.responses).toHaveProperty('409');
    expect(body.components.securitySchemes).toHaveProperty('bearer');
  });
});
