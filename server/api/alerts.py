"""Alerts: channels (admin; secrets accepted, never returned), rules (admin), the outbox's messages and a
channel's test message, and each signed-in user's own choices (`/alerts/me`). docs/alerts.md."""

from fastapi import APIRouter, Response

from server.api.deps import Admin, CurrentPrincipal
from server.core.db import SessionDep
from server.core.errors import Forbidden
from server.core.services import ServicesDep, SettingsDep
from server.domain import alert_channels, alert_outbox, alert_rules
from server.domain.alert_channels import ChannelIn, ChannelPublic
from server.domain.alert_outbox import MessagePublic
from server.domain.alert_rules import Choice, MySettings, RuleIn, RulePublic

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _key(settings: SettingsDep) -> str:
    return settings.secret_key.get_secret_value() if settings.secret_key is not None else ""


@router.get("/channels", response_model=list[ChannelPublic])
def list_channels(session: SessionDep, settings: SettingsDep, _: Admin) -> list[ChannelPublic]:
    return alert_channels.list_channels(session, _key(settings))


@router.post("/channels", response_model=ChannelPublic, status_code=201)
def create_channel(data: ChannelIn, session: SessionDep, settings: SettingsDep, _: Admin) -> ChannelPublic:
    return alert_channels.create(session, data, _key(settings))


@router.put("/channels/{channel_id}", response_model=ChannelPublic)
def update_channel(
    channel_id: int, data: ChannelIn, session: SessionDep, settings: SettingsDep, _: Admin
) -> ChannelPublic:
    return alert_channels.update(session, channel_id, data, _key(settings))


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: int, session: SessionDep, _: Admin) -> Response:
    alert_channels.delete(session, channel_id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", response_model=MessagePublic, status_code=202)
def test_channel(channel_id: int, session: SessionDep, services: ServicesDep, _: Admin) -> MessagePublic:
    """Queue a test message; `GET /alerts/messages/{id}` shows its attempts and the provider's answer."""
    message = alert_rules.send_test(session, channel_id)
    if services.sender is not None:
        services.sender.wake()
    return alert_outbox.message_public(session, message)


@router.get("/messages/{message_id}", response_model=MessagePublic)
def get_message(message_id: int, session: SessionDep, _: Admin) -> MessagePublic:
    return alert_outbox.get_message(session, message_id)


@router.get("/messages", response_model=list[MessagePublic])
def recent_messages(session: SessionDep, _: Admin) -> list[MessagePublic]:
    return [alert_outbox.message_public(session, m) for m in alert_outbox.recent(session)]


@router.get("/rules", response_model=list[RulePublic])
def list_rules(session: SessionDep, _: Admin) -> list[RulePublic]:
    return alert_rules.list_rules(session)


@router.post("/rules", response_model=RulePublic, status_code=201)
def create_rule(data: RuleIn, session: SessionDep, _: Admin) -> RulePublic:
    return alert_rules.create_rule(session, data)


@router.put("/rules/{rule_id}", response_model=RulePublic)
def update_rule(rule_id: int, data: RuleIn, session: SessionDep, _: Admin) -> RulePublic:
    return alert_rules.update_rule(session, rule_id, data)


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, session: SessionDep, _: Admin) -> Response:
    alert_rules.delete_rule(session, rule_id)
    return Response(status_code=204)


def _user_id(who: CurrentPrincipal) -> int:
    if who.user_id is None:
        raise Forbidden("only a signed-in user has alert settings")
    return who.user_id


@router.get("/me", response_model=MySettings)
def my_settings(session: SessionDep, who: CurrentPrincipal) -> MySettings:
    return alert_rules.my_settings(session, _user_id(who))


@router.put("/me", response_model=MySettings)
def save_my_settings(data: MySettings, session: SessionDep, who: CurrentPrincipal) -> MySettings:
    return alert_rules.save_my_settings(session, _user_id(who), data)


@router.get("/me/choices", response_model=list[Choice])
def my_choices(session: SessionDep, who: CurrentPrincipal) -> list[Choice]:
    return alert_rules.my_choices(session, _user_id(who), who.role)


@router.put("/me/choices/{rule_id}/{channel_id}", response_model=list[Choice])
def choose(
    rule_id: int, channel_id: int, enabled: bool, session: SessionDep, who: CurrentPrincipal
) -> list[Choice]:
    alert_rules.choose(session, _user_id(who), rule_id, channel_id, enabled)
    return alert_rules.my_choices(session, _user_id(who), who.role)
