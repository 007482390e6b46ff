"""The ground floor: the one settings object, the data contract, feature and column names,
errors, Parquet I/O, file conformance, viewer pseudonyms and how to get a Ray. Imports nothing
else of livecart."""
