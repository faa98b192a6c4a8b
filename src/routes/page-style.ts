/**
 * What the HTML pages (the demo page `/`, `/gallery`) share: the document head and one
 * stylesheet for the page, its header bar and the section cards. Each page adds its own rules.
 */
import { escapeHtml } from '@aperture/sdk';

/** The shared rules: page, header bar (title, one line of text, links), section cards, headings. */
export const PAGE_CSS = `  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: #1d2430; background: #f5f6f8; }
  header { padding: 14px 20px; background: #1d2430; color: #fff; }
  header h1 { margin: 0; font-size: 20px; }
  header p { margin: 4px 0 0; opacity: .8; font-size: 13px; }
  header a { color: #9cc2ff; }
  section { margin: 16px 20px; padding: 14px 16px; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h2 { margin: 0 0 10px; font-size: 16px; }`;

/**
 * The page up to `<body>`: UTF-8, a device-width viewport, the title (escaped), `head` (more
 * elements, trusted HTML), then the shared stylesheet followed by the page's own `css`.
 */
export function pageHead(title: string, css: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${head}<title>${escapeHtml(title)}</title>
<style>
${PAGE_CSS}
${css}
</style>
</head>`;
}
