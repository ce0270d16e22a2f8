-- Fails when a package key appears twice: the package grain of fct_packages is broken.
select package_id, count(*) as copies
from marts.fct_packages
group by package_id
having count(*) > 1
