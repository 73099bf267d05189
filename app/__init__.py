"""The Flask application of Xinfang Records, built by named configuration steps."""
from __future__ import annotations

from flask import Flask

from .config import load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings (tests pass ``XINFANG_HOME`` etc. here)."""
    app = Flask(__name__, instance_relative_config=False)
    load_config(app, config)
    configure_requests(app)
    configure_instance(app)
    configure_auth(app)
    configure_babel(app)
    configure_errors(app)
    configure_security_headers(app)
    register_blueprints(app)
    return app


def configure_requests(app: Flask) -> None:
    from .web import BoundedInt, BoundedJSONProvider, InMemoryRequest

    app.request_class = InMemoryRequest
    app.json = BoundedJSONProvider(app)   # a JSON body nested too deep is a 400, not a RecursionError
    # before any route is added: an id beyond the databases' integers is "not found", not a 500
    app.url_map.converters["int"] = BoundedInt


def configure_instance(app: Flask) -> None:
    from .web import init_unit_of_work

    init_unit_of_work(app)


def configure_auth(app: Flask) -> None:
    from .auth.session import init_auth

    init_auth(app)


def configure_babel(app: Flask) -> None:
    from .i18n import init_babel

    init_babel(app)


def configure_errors(app: Flask) -> None:
    from .errors import init_errors

    init_errors(app)


def configure_security_headers(app: Flask) -> None:
    from .web import init_security_headers

    init_security_headers(app)


def register_blueprints(app: Flask) -> None:
    from .admin.grants import bp as grants_bp
    from .audit.views import bp as audit_bp
    from .admin.views import bp as admin_bp
    from .auth.account import bp as account_bp
    from .api import views as _api_routes  # noqa: F401 - the routes of the API blueprint
    from .api.base import bp as api_bp
    from .auth.views import bp as auth_bp
    from .desk.views import bp as desk_bp
    from .exports.views import bp as exports_bp
    from .intake.views import bp as intake_bp
    from .ledger.views import bp as ledger_bp
    from .reference import api as _reference_api_routes  # noqa: F401 - reference routes of the API blueprint
    from .reference.views import bp as reference_bp
    from .search.views import bp as search_bp
    from .retention import api as _retention_api_routes  # noqa: F401 - retention routes of the API blueprint
    from .retention.views import bp as retention_bp
    from .roster.views import bp as roster_bp
    from .stats.views import bp as stats_bp
    from .web import bp as core_bp
    from .workflow.views import bp as workflow_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(grants_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(retention_bp)
    app.register_blueprint(workflow_bp)
    app.register_blueprint(stats_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(roster_bp)
    app.register_blueprint(reference_bp)
