-- Fragment: the counted events (fragments/counted_events.sql) with their person: the distinct id's
-- override when one exists (latest version, not deleted), else the event's person_id. Detection counts
-- events and needs no person; the inserts use this.
SELECT c.*, if(o.has_override = 1, o.override_person_id, c.event_person_id) AS person_id
FROM
(
@include(web_preagg/fragments/counted_events)
) AS c
LEFT JOIN
(
@include(web_preagg/fragments/person_overrides)
) AS o ON c.team_id = o.team_id AND c.distinct_id = o.distinct_id
