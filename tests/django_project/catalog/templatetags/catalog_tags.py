from django import template

register = template.Library()


@register.filter
def price(cents: int) -> str:
    """Format a price in cents as dollars."""
    return f"${cents / 100:.2f}"
