/** Every Prometheus metric this service exposes. */
export const Metric = {
  MessagesSent: 'ai_messages_sent_total',
  GenerationDuration: 'ai_message_generation_duration_seconds',
  TemplateFallbacks: 'ai_message_template_fallbacks_total',
  SafetyRejections: 'ai_message_safety_rejections_total',
  LlmTokens: 'ai_llm_tokens_total',
  Skipped: 'ai_messages_skipped_total',
} as const;
