"""Quality checks at a centre's size: one day of a large centre's answered calls (27,000, 1,500
operators) read and sampled by the rules, and a month of reviews (5% of 810,000 calls: 40,500)
summed per operator by the store's SQL. The sampling job runs every few minutes and the figures
page on demand, so the bar is 2 s for a sampling run and 1 s for a month's figures.

    PYTHONPATH=. python bench/quality.py [--calls 27000] [--seats 1500] [--reviews 40500]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agents.quality import Sampler
from ivr.quality import QaSettings
from ivr.records import CallRecord, Review, Sample
from ivr.store import open_store

DAY = 86400.0
CALLS_PER_RUN = 2000  # writes per store call while seeding, so seeding stays bounded in memory


async def run(calls: int, seats: int, reviews: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(Path(tmp) / "hotline.db")
        start_of_day = time.time() - DAY + 600
        try:
            for first in range(0, calls, CALLS_PER_RUN):
                batch = range(first, min(calls, first + CALLS_PER_RUN))
                await asyncio.gather(
                    *(
                        store.save_call(
                            CallRecord(
                                f"c{i}",
                                "13800000000",
                                start_of_day + i * DAY / calls,
                                ended_at=start_of_day + i * DAY / calls + 240 + i % 700,
                                seat_id=f"{1000 + i % seats}",
                            )
                        )
                        for i in batch
                    )
                )
            sampler = Sampler(store.reviews, QaSettings(share=0.05, lookback_days=1))
            t0 = time.perf_counter()
            added = await sampler.run_once()
            sampling = time.perf_counter() - t0
            month = time.time() - 30 * DAY
            for first in range(0, reviews, CALLS_PER_RUN):
                batch = range(first, min(reviews, first + CALLS_PER_RUN))
                await store.reviews.add_samples(
                    [
                        Sample(f"r{i}", f"{1000 + i % seats}", "", month + i * 60, ("share",), 0.0)
                        for i in batch
                    ]
                )
                await asyncio.gather(
                    *(
                        store.reviews.add_review(
                            Review(
                                0,
                                f"r{i}",
                                f"{1000 + i % seats}",
                                "",
                                "supervisor",
                                month + i * 60 + 1,
                                month + i * 60,
                                float(60 + i % 41),
                                {},
                                ("leak",) if i % 97 == 0 else (),
                            )
                        )
                        for i in batch
                    )
                )
            t0 = time.perf_counter()
            figures = await store.reviews.figures(month, time.time() + DAY, 80.0)
            summing = time.perf_counter() - t0
        finally:
            await store.close()
    print(f"sampling: {calls} calls of {seats} seats read and sampled in {sampling:.2f} s ({added} queued)")
    print(f"figures: {reviews} reviews summed for {len(figures)} seats in {summing:.2f} s")
    ok = sampling < 2.0 and summing < 1.0
    print("PASS" if ok else "FAIL: over the bar (2 s sampling, 1 s figures)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=27000)
    p.add_argument("--seats", type=int, default=1500)
    p.add_argument("--reviews", type=int, default=40500)
    args = p.parse_args()
    asyncio.run(run(args.calls, args.seats, args.reviews))


if __name__ == "__main__":
    main()
