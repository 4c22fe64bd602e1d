"""The built-in welcome menu: what a caller hears when no flow can be loaded for the number.

A broken flows folder must never leave a city's hotline silent, so this menu needs nothing but
TTS and the keypad: greet, offer 1 for an operator / say 咨询, repeat on no input, hang up politely.
"""

from __future__ import annotations

from ivr.control import CallControl, DigitSpec, Prompt, SpeechSpec
from ivr.records import CallContext, QueueRequest

GREETING = "您好，欢迎致电12345市民服务热线。"
MENU = "咨询、投诉、求助请按1，或者直接说“咨询”。"
AGAIN = "抱歉，没有听清。"
BYE = "感谢您的来电，再见。"
BUSY = "现在坐席全忙，请稍后再拨。感谢您的来电，再见。"
ROUTED = "正在为您转接人工服务，请稍候。"
MAX_TRIES = 3


async def welcome_menu(call: CallControl, path: list[str]) -> None:
    """Runs the menu, appending each step to `path` (kept for the call record on hang-up too)."""
    path.append("greeting")
    await call.play([Prompt(GREETING)], barge_in=True)
    for attempt in range(MAX_TRIES):
        prompts = [Prompt(MENU)] if attempt == 0 else [Prompt(AGAIN), Prompt(MENU)]
        heard = await call.ask(
            prompts,
            digits=DigitSpec(max_digits=1, first_timeout=5.0),
            speech=SpeechSpec(phrases=("咨询", "人工", "投诉", "求助"), timeout=5.0),
        )
        path.append(f"menu:{heard.kind}:{heard.value}")
        if (heard.kind == "dtmf" and heard.value == "1") or (heard.kind == "speech" and heard.value):
            path.append("queue:general")
            await call.play([Prompt(ROUTED)])
            context = CallContext(
                call.call_id, call.caller, call.dialled, call.origin, flow="welcome", path=tuple(path)
            )
            result = await call.enqueue(QueueRequest("general", context))
            path.append(f"queue:{result.outcome}")
            if result.outcome not in ("completed", "operator_hangup"):
                await call.play([Prompt(BUSY)])
            await call.hangup()
            return
    path.append("goodbye")
    await call.play([Prompt(BYE)])
    await call.hangup()
