-- Empty one stop cube before a full build (the cube definition changed, or a first build).
delete from {{ cube }};
