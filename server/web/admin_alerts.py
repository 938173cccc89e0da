"""`/admin/alerts`: alert channels (secrets entered, never shown), their test message and failures, the rules,
the latest messages; `/me/alerts`: a user's own address, language and which rules reach them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import ServicesDep, SettingsDep
from server.domain import admin_lists, alert_channels, alert_outbox, alert_rules, alert_texts
from server.domain.alert_channels import ChannelIn
from server.domain.alert_rules import MySettings, RuleIn
from server.domain.principals import Principal
from server.models.alerts import RuleKind
from server.web.auth import AdminUser, SameOrigin, page_user
from server.web.forms import done, validated
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)
PAGE = "/admin/alerts"
SignedIn = Annotated[Principal, Depends(page_user)]
RULE_KINDS: tuple[str, ...] = RuleKind.__args__  # type: ignore[attr-defined]


def _key(settings: SettingsDep) -> str:
    return settings.secret_key.get_secret_value() if settings.secret_key is not None else ""


class ChannelForm:
    """The channel form's fields (a dependency, so the route's signature stays short)."""

    def __init__(
        self,
        name: Annotated[str, Form(max_length=100)],
        kind: Annotated[str, Form(max_length=16)],
        lang: Annotated[str, Form(max_length=8)] = "zh_CN",
        url: Annotated[str, Form(max_length=1000)] = "",
        secret: Annotated[str, Form(max_length=500)] = "",
        smtp_host: Annotated[str, Form(max_length=200)] = "",
        smtp_port: Annotated[str, Form(max_length=6)] = "",
        smtp_mode: Annotated[str, Form(max_length=10)] = "starttls",
        smtp_user: Annotated[str, Form(max_length=200)] = "",
        smtp_password: Annotated[str, Form(max_length=500)] = "",
        email_from: Annotated[str, Form(max_length=200)] = "",
        email_to: Annotated[str, Form(max_length=2000)] = "",
    ) -> None:
        self.values: dict[str, object] = {
            "name": name.strip(), "kind": kind, "lang": lang, "url": url.strip(), "secret": secret,
            "smtp_host": smtp_host.strip(), "smtp_port": smtp_port, "smtp_mode": smtp_mode,
            "smtp_user": smtp_user, "smtp_password": smtp_password, "email_from": email_from.strip(),
            "email_to": [a.strip() for a in email_to.replace(";", ",").split(",") if a.strip()],
        }  # fmt: skip

    def model(self) -> ChannelIn:
        return validated(ChannelIn, self.values)


@router.get(PAGE)
def alerts_page(request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser) -> Response:
    context = {
        "who": who, "channels": alert_channels.list_channels(session, _key(settings)),
        "rules": alert_rules.list_rules(session), "messages": alert_outbox.recent(session, 30),
        "kinds": RULE_KINDS, "lines": admin_lists.lines(session), "machines": admin_lists.machines(session),
        "rule_name": alert_texts.rule_name,
    }  # fmt: skip
    return templates.TemplateResponse(request, "admin/alerts.html", context)


@router.post(f"{PAGE}/channels")
def create_channel(
    request_form: Annotated[ChannelForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    _who: AdminUser,
    _origin: SameOrigin,
) -> Response:
    alert_channels.create(session, request_form.model(), _key(settings))
    return done(PAGE, N_("Channel saved"))


@router.post(f"{PAGE}/channels/{{channel_id}}")
def update_channel(
    channel_id: int,
    request_form: Annotated[ChannelForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    _who: AdminUser,
    _origin: SameOrigin,
) -> Response:
    """Change a channel; secret fields left empty keep the stored secrets (they are never sent back)."""
    alert_channels.update(session, channel_id, request_form.model(), _key(settings))
    return done(PAGE, N_("Channel saved"))


@router.post(f"{PAGE}/channels/{{channel_id}}/test")
def test_channel(
    channel_id: int, session: SessionDep, services: ServicesDep, _who: AdminUser, _origin: SameOrigin
) -> Response:
    alert_rules.send_test(session, channel_id)
    if services.sender is not None:
        services.sender.wake()
    return done(PAGE, N_("Test message queued: its result shows below"))


@router.post(f"{PAGE}/channels/{{channel_id}}/delete")
def delete_channel(channel_id: int, session: SessionDep, _who: AdminUser, _origin: SameOrigin) -> Response:
    alert_channels.delete(session, channel_id)
    return done(PAGE, N_("Channel removed"))


class RuleForm:
    """The rule form's fields, for a new rule and for changing one."""

    def __init__(
        self,
        name: Annotated[str, Form(max_length=100)],
        kind: Annotated[str, Form(max_length=32)],
        threshold: Annotated[str, Form(max_length=20)] = "",
        line_id: Annotated[str, Form(max_length=20)] = "",
        machine_id: Annotated[str, Form(max_length=20)] = "",
        channel_ids: Annotated[list[int] | None, Form()] = None,
        roles: Annotated[list[str] | None, Form()] = None,
        quiet_from: Annotated[str, Form(max_length=5)] = "",
        quiet_to: Annotated[str, Form(max_length=5)] = "",
        escalate_after_min: Annotated[str, Form(max_length=20)] = "",
        escalate_channel_ids: Annotated[list[int] | None, Form()] = None,
        enabled: Annotated[str | None, Form(max_length=5)] = None,  # the checkbox: absent when unticked
    ) -> None:
        self.values: dict[str, object] = {
            "name": name, "kind": kind, "threshold": threshold, "line_id": line_id, "machine_id": machine_id,
            "channel_ids": channel_ids or [], "roles": roles or [], "quiet_from": quiet_from,
            "quiet_to": quiet_to, "escalate_after_min": escalate_after_min,
            "escalate_channel_ids": escalate_channel_ids or [],
        }  # fmt: skip
        self.enabled = enabled

    def model(self, unticked: bool) -> RuleIn:
        """`unticked`: what a missing `enabled` means (a new rule is on unless said otherwise)."""
        enabled = unticked if self.enabled is None else self.enabled == "on"
        return validated(RuleIn, {**self.values, "enabled": enabled})


@router.post(f"{PAGE}/rules")
def create_rule(
    form: Annotated[RuleForm, Depends()], session: SessionDep, _who: AdminUser, _origin: SameOrigin
) -> Response:
    alert_rules.create_rule(session, form.model(unticked=True))
    return done(PAGE, N_("Rule saved"))


@router.post(f"{PAGE}/rules/{{rule_id}}")
def update_rule(
    rule_id: int,
    form: Annotated[RuleForm, Depends()],
    session: SessionDep,
    _who: AdminUser,
    _origin: SameOrigin,
) -> Response:
    """Change a rule: its condition, limit, routing, quiet hours, escalation, on or off. Open episodes go on
    under the changed rule (a lifted limit resolves them at the next evaluation)."""
    alert_rules.update_rule(session, rule_id, form.model(unticked=False))
    return done(PAGE, N_("Rule saved"))


@router.post(f"{PAGE}/rules/{{rule_id}}/delete")
def delete_rule(rule_id: int, session: SessionDep, _who: AdminUser, _origin: SameOrigin) -> Response:
    alert_rules.delete_rule(session, rule_id)
    return done(PAGE, N_("Rule removed"))


@router.get("/me/alerts")
def my_alerts(request: Request, session: SessionDep, who: SignedIn) -> Response:
    user_id = who.user_id or 0
    context = {
        "who": who, "mine": alert_rules.my_settings(session, user_id),
        "choices": alert_rules.my_choices(session, user_id, who.role), "rule_name": alert_texts.rule_name,
    }  # fmt: skip
    return templates.TemplateResponse(request, "admin/my_alerts.html", context)


@router.post("/me/alerts")
def save_my_alerts(
    session: SessionDep,
    who: SignedIn,
    _origin: SameOrigin,
    email: Annotated[str, Form(max_length=200)] = "",
    lang: Annotated[str, Form(max_length=8)] = "zh_CN",
    chosen: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Save the address and language, and every rule x channel box: ticked on, unticked off."""
    user_id = who.user_id or 0
    alert_rules.save_my_settings(session, user_id, validated(MySettings, {"email": email, "lang": lang}))
    ticked = set(chosen or [])
    for choice in alert_rules.my_choices(session, user_id, who.role):
        key = f"{choice.rule_id}:{choice.channel_id}"
        if (key in ticked) != choice.enabled:
            alert_rules.choose(session, user_id, choice.rule_id, choice.channel_id, key in ticked)
    return done("/me/alerts", N_("Your alert settings are saved"))
