export function renderChatJson(family: string, request: string): string {
  return '{"error":"not implemented"}';
}
