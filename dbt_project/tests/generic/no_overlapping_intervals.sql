{#- Half-open intervals [from, to) of the same entity never overlap; a null `to` is open.
    Fails with each pair of overlapping rows. -#}
{% test no_overlapping_intervals(model, partition_by, from_column, to_column, key_column) %}
{%- set keys = partition_by if partition_by is not string else [partition_by] -%}
select
    {% for k in keys %}a.{{ k }}, {% endfor %}
    a.{{ key_column }} as first_key,
    b.{{ key_column }} as second_key
from {{ model }} as a
inner join {{ model }} as b
    on
        {% for k in keys %}a.{{ k }} = b.{{ k }} and {% endfor %}
        a.{{ key_column }} < b.{{ key_column }}
        and a.{{ from_column }} < coalesce(b.{{ to_column }}, cast('9999-12-31' as timestamp))
        and b.{{ from_column }} < coalesce(a.{{ to_column }}, cast('9999-12-31' as timestamp))
{% endtest %}
