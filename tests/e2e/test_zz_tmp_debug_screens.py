import pytest
from tests.e2e.test_screenshots import open_page, log_in
pytestmark = pytest.mark.django_db(transaction=True)

def test_dbg(demo, live_server, browser):
    page = open_page(browser, 390)
    log_in(page, live_server, "sre-lead@example.com")
    page.goto(f"{live_server.url}/launches/llm-research-lab/signoffs/sre-lead/sign/")
    print(page.evaluate("""() => { const out=[]; for (const el of document.querySelectorAll('*')) { const r=el.getBoundingClientRect(); if (r.right>391) out.push(el.tagName+'.'+el.className+' '+Math.round(r.left)+'-'+Math.round(r.right)+' sw='+el.scrollWidth+' ox='+getComputedStyle(el).overflowX);} return [window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth, out.slice(0,30)]; }"""))
