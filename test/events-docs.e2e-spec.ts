import { createTestApp, TestApp } from './support/test-app';

describe('Events API documentation', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('documents every events route with its responses, and the DTOs with examples', async () => {
    const { body } = await t.http().get('/docs-json').expect(200);
    expect(Object.keys(body.paths['/events'].post.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403']));
    expect(body.paths['/r/{code}'].get.responses).toEqual(expect.objectContaining({ '302': expect.anything(), '404': expect.anything() }));
    expect(body.paths['/o/{code}'].get.responses).toHaveProperty('200');
    expect(body.paths['/admin/smartengage/stats'].get.responses).toEqual(
      expect.objectContaining({ '200': expect.anything(), '400': expect.anything(), '401': expect.anything() }),
    );
    const request = body.components.schemas.RecordEventRequestDto;
    expect(request.required).toEqual(expect.arrayContaining(['event_type', 'source']));
    for (const field of ['event_type', 'source', 'occurred_at']) expect(request.properties[field].example).toBeDefined();
    for (const dto of ['MessageEventResponseDto', 'EngagementGroupDto']) {
      const properties: Record<string, { example?: unknown }> = body.components.schemas[dto].properties;
      const withoutExample = Object.entries(properties).filter(([, schema]) => schema.example === undefined);
      expect({ dto, withoutExample }).toEqual({ dto, withoutExample: [] });
    }
    const parameters: { name: string; example?: unknown; schema?: { example?: unknown } }[] =
      body.paths['/admin/smartengage/stats'].get.parameters;
    expect(parameters.map((p) => [p.name, p.example ?? p.schema?.example])).toEqual([
      ['from', '2025-11-01T00:00:00Z'],
      ['to', '2025-12-01T00:00:00Z'],
    ]);
  });
});
