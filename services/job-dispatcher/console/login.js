// Says why a sign-in failed: /console/login?failed=1 (the token) or ?failed=name (the name).
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const why = new URLSearchParams(window.location.search).get('failed');
  const failed = why === '1' || why === 'name';
  const box = document.getElementById('login-error');
  if (box) {
    box.hidden = !failed;
    if (why === 'name') box.textContent = 'That name was not accepted: 1-64 letters, digits, ".", "_", "-", ":" or "@".';
  }
  if (failed) {
    const token = document.getElementById('token');
    if (token) token.focus();
  }
});
