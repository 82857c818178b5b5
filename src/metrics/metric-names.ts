/** Every Prometheus metric this service exposes. */
export const Metric = {
  MessagesSent: 'ai_messages_sent_total',
  GenerationDuration: 'ai_message_generation_duration_seconds',
  TemplateFallbacks: 'ai_message_template_fallbacks_total',
  SafetyRejections: 'ai_message_safety_rejections_total',
  LlmTokens: 'ai_llm_tokens_total',
  Skipped: 'ai_messages_skipped_total',
  SmsSegments: 'ai_sms_segments_total',
  MessageEvents: 'ai_message_events_total',
  DeliveryStatus: 'ai_messages_delivery_status',
  DeliveryAttempts: 'ai_delivery_attempts_total',
  StaleMessagesSettled: 'ai_stale_messages_settled_total',
  CampaignRuns: 'ai_campaign_runs_total',
  HttpRequestDuration: 'http_request_duration_seconds',
} as const;
