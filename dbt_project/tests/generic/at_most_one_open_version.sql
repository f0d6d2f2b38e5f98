{#- Each entity has at most one open version (a row whose `to_column` is null). -#}
{% test at_most_one_open_version(model, partition_by, to_column) %}
{%- set keys = partition_by if partition_by is not string else [partition_by] -%}
select
    {{ keys | join(', ') }},
    count(*) as open_versions
from {{ model }}
where {{ to_column }} is null
group by {{ keys | join(', ') }}
having count(*) > 1
{% endtest %}
