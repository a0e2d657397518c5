// Shows the "token not accepted" message after a failed sign-in (/console/login?failed=1).
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const failed = new URLSearchParams(window.location.search).get('failed') === '1';
  const box = document.getElementById('login-error');
  if (box) box.hidden = !failed;
  if (failed) {
    const token = document.getElementById('token');
    if (token) token.focus();
  }
});
