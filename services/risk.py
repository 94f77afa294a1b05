"""``nija.risk.v1.RiskService`` and the admin kill-switch RPC: proto ⇄ :class:`nija.core.risk.RiskEngine`.

``AdminService.SetKillSwitch`` lives in the admin servicer (``services/admin.py``); its body is
:func:`set_kill_switch` here so the risk rules stay in one place.
"""

from __future__ import annotations

from nija.admin.v1 import admin_pb2
from nija.core.errors import InvalidArgument, PermissionDenied
from nija.core.risk import KillSwitchView, RiskEngine
from nija.risk.v1 import risk_pb2, risk_pb2_grpc
from nija.services.context import current

MAX_REASON = 500


def kill_switch_state(view: KillSwitchView) -> admin_pb2.KillSwitchState:
    return admin_pb2.KillSwitchState(
        active=view.active, flatten=view.flatten, changed_at=view.changed_at, changed_by=view.changed_by or "",
        reason=view.reason,
    )


async def set_kill_switch(risk: RiskEngine, request: admin_pb2.SetKillSwitchRequest) -> admin_pb2.KillSwitchState:
    """Engage (``active``) or clear the global kill switch as the calling admin; audited.

    Returns once the change is committed and announced: no order is accepted after that.
    """
    call = current()
    # The interceptor already requires the admin role for nija.admin.v1; checked again here
    # because this is the most privileged switch of the platform.
    if call.claims is None or not call.claims.is_admin:
        raise PermissionDenied("the global kill switch needs the admin role")
    reason = request.reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason holds at most {MAX_REASON} characters", field="reason")
    if request.flatten and not request.active:
        raise InvalidArgument("flatten only goes with active=true", field="flatten")
    view = await risk.kill_switch.set(
        active=request.active, flatten=request.flatten, reason=reason, actor_id=call.user_id,
        client_ip=call.client_ip,
    )
    return kill_switch_state(view)


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    """The caller's own limits, usage, drawdown and kill-switch state."""

    def __init__(self, risk: RiskEngine) -> None:
        self.risk = risk

    async def GetRiskState(self, request, context):
        view = await self.risk.state(current().user_id)
        return risk_pb2.RiskState(
            limits=[risk_pb2.RiskLimit(name=l.name, limit=l.limit, used=l.used) for l in view.limits],
            drawdown_pct=f"{view.drawdown_pct:f}",
            user_kill_switch=view.user_kill_switch,
            global_kill_switch=view.global_kill_switch,
            reduce_only=view.reduce_only,
            plan=view.plan,
            disabled_bots=list(view.disabled_bots),
        )
