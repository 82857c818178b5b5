/** Every Prometheus metric this service exposes. */
export const Metric = {
  MessagesSent: 'ai_messages_sent_total',
  GenerationDuration: 'ai_message_generation_duration_seconds',
  TemplateFallbacks: 'ai_message_template_fallbacks_total',
  SafetyRejections: 'ai_message_safety_rejections_total',
  LlmTokens: 'ai_llm_tokens_total',
  LlmCircuitState: 'ai_llm_circuit_state',
  Skipped: 'ai_messages_skipped_total',
  SmsSegments: 'ai_sms_segments_total',
  MessageEvents: 'ai_message_events_total',
  DeliveryStatus: 'ai_messages_delivery_status',
  CampaignRuns: 'ai_campaign_runs_total',
  HttpRequestDuration: 'http_request_duration_seconds',
} as const;
