{#- Every interval is non-empty: from < to, or open. -#}
{% test valid_interval(model, from_column, to_column) %}
select *
from {{ model }}
where {{ to_column }} is not null and not ({{ from_column }} < {{ to_column }})
{% endtest %}
