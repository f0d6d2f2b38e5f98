{#- The combination of `columns` identifies at most one row (a composite primary key). -#}
{% test unique_key(model, columns) %}
select
    {{ columns | join(', ') }},
    count(*) as duplicate_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
