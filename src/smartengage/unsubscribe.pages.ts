const page = (body: string) => `<!doctype html>
<html lang="bn"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ShoktiAI</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.6">${body}</body></html>`;

export function confirmationPage(token: string): string {
  return page(`<h1>ইমেইল বন্ধ করুন</h1>
<p>ShoktiAI থেকে আর রিমাইন্ডার ইমেইল পেতে না চাইলে নিচের বোতামে চাপ দিন।</p>
<form method="post" action="${encodeURIComponent(token)}"><button type="submit"
 style="padding: .6rem 1.2rem; font-size: 1rem">আনসাবস্ক্রাইব করুন</button></form>`);
}

export function unsubscribedPage(): string {
  return page(`<h1>আনসাবস্ক্রাইব হয়েছে</h1><p>আপনাকে আর কোনো রিমাইন্ডার পাঠানো হবে না।</p>`);
}
