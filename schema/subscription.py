"""Root subscriptions (graphql-transport-ws at /graphql)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from sliceboard.schema import jobs


@strawberry.type
class Subscription:
    job: AsyncGenerator[jobs.Job, None] = strawberry.subscription(
        resolver=jobs.job_updates,
        description="The job now, then every status/progress change, ending after a final status.",
    )
