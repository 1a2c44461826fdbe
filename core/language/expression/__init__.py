"""`${...}` expressions: JavaScript evaluated in a QuickJS sandbox, with a `moment()` subset."""

from digpy.core.language.expression.template import TemplateEngine, TemplateError, has_template

__all__ = ["TemplateEngine", "TemplateError", "has_template"]
