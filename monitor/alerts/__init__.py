"""Alerts: rules in the watchlist, an engine that fires each crossing exactly once, kept across restarts."""

from monitor.alerts.engine import AlertEngine, AlertListener, Indicator, RuleStatus
from monitor.alerts.events import AlertFired
from monitor.alerts.rules import AlertRule, Condition, RuleError, derived_id, make_rule, parse_when
from monitor.alerts.state import AlertState, RuleState, default_state_dir, state_path

__all__ = [
    "AlertEngine",
    "AlertFired",
    "AlertListener",
    "AlertRule",
    "AlertState",
    "Condition",
    "Indicator",
    "RuleError",
    "RuleState",
    "RuleStatus",
    "default_state_dir",
    "derived_id",
    "make_rule",
    "parse_when",
    "state_path",
]
