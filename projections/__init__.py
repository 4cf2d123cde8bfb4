"""The ClickHouse side of Frontline: the projection (`projection`: events to rows, pure), its
store (`store`: load and write state), migrations, dashboard queries, and the consistency
queries behind `frontline verify`. Imports `events` only."""
