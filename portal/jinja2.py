"""The Jinja2 environment of the heavy parts of pages (`templates/jinja2/`): a gate's chart and
measurements, rendered into its Django page.

The gates page, the overview and the sign page render through one engine, Django's; their long
parts (a launch's rows, the parts drawn from every gate) come from the cache (apps/gates/rows.py),
rendered only when something they show changed.
The filters are Django's own, so the text is the same either way (quotes are escaped as &#39; and
&#34; instead of &#x27; and &quot;).
"""

from django.template.defaultfilters import floatformat, pluralize, truncatechars
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from jinja2 import Environment


def environment(**options) -> Environment:
    env = Environment(**options)  # noqa: S701 - Django's backend turns autoescape on
    env.globals["url"] = lambda name, *args: reverse(name, args=args)
    env.filters.update(floatformat=floatformat, pluralize=pluralize, timesince=timesince,
                       truncatechars=truncatechars)  # fmt: skip
    return env


def render(name: str, **context) -> SafeString:
    """templates/jinja2/`name`, to put in a Django template as it is (Jinja2 escaped it)."""
    return mark_safe(render_to_string(name, context, using="jinja2"))  # noqa: S308
