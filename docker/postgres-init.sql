-- One database per service: no service reads another's tables.
CREATE DATABASE registry;
CREATE DATABASE medical;
CREATE DATABASE education;
CREATE DATABASE housing;
CREATE DATABASE employment;
CREATE DATABASE utilities;
CREATE DATABASE legal;
CREATE DATABASE office;
