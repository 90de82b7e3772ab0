-- The Hopsworks tables hopsharbor follows, as hopsworks-chef 3.9/4.0 defines them
-- (files/default/sql/ddl/4.0.0__initial_tables.sql), adapted to MariaDB/InnoDB for the local stack
-- and the tests:
--   * ENGINE=ndbcluster -> InnoDB (production runs RonDB); charset latin1/latin1_general_cs kept;
--   * utf8mb4_0900_ai_ci (MySQL 8 only) -> utf8mb4_unicode_ci for fname/lname;
--   * CREATE TABLE IF NOT EXISTS, so loading twice is harmless.
-- Columns, types, keys and foreign keys are otherwise those of production. Note: rows removed by
-- ON DELETE CASCADE are NOT written to the binlog by InnoDB; the connector and the stream processor
-- treat the project delete itself as the signal to tear a project down.

CREATE TABLE IF NOT EXISTS `users` (
  `uid` int(11) NOT NULL AUTO_INCREMENT,
  `username` varchar(10) COLLATE latin1_general_cs NOT NULL,
  `password` varchar(128) COLLATE latin1_general_cs NOT NULL,
  `email` varchar(150) COLLATE latin1_general_cs DEFAULT NULL,
  `fname` varchar(30) CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL,
  `lname` varchar(30) CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL,
  `activated` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `title` varchar(10) COLLATE latin1_general_cs DEFAULT '-',
  `false_login` int(11) NOT NULL DEFAULT '-1',
  `status` int(11) NOT NULL DEFAULT '-1',
  `isonline` int(11) NOT NULL DEFAULT '-1',
  `secret` varchar(20) COLLATE latin1_general_cs DEFAULT NULL,
  `validation_key` varchar(128) COLLATE latin1_general_cs DEFAULT NULL,
  `validation_key_updated` timestamp DEFAULT NULL,
  `validation_key_type` VARCHAR(20) DEFAULT NULL,
  `mode` int(11) NOT NULL DEFAULT '0',
  `password_changed` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `notes` varchar(500) COLLATE latin1_general_cs DEFAULT '-',
  `max_num_projects` int(11) NOT NULL,
  `num_active_projects` int(11) NOT NULL DEFAULT '0',
  `two_factor` tinyint(1) NOT NULL DEFAULT '1',
  `tours_state` tinyint(1) NOT NULL DEFAULT '0',
  `salt` varchar(128) COLLATE latin1_general_cs NOT NULL DEFAULT '',
  PRIMARY KEY (`uid`), UNIQUE KEY `username` (`username`), UNIQUE KEY `email` (`email`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs;

CREATE TABLE IF NOT EXISTS `project` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `projectname` varchar(100) COLLATE latin1_general_cs NOT NULL,
  `username` varchar(150) COLLATE latin1_general_cs NOT NULL,
  `created` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `description` varchar(2000) COLLATE latin1_general_cs DEFAULT NULL,
  `payment_type` varchar(255) COLLATE latin1_general_cs NOT NULL DEFAULT 'PREPAID',
  `last_quota_update` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `kafka_max_num_topics` int(11) NOT NULL DEFAULT '100',
  `docker_image` varchar(255) COLLATE latin1_general_cs DEFAULT NULL,
  `topic_name` VARCHAR(255) DEFAULT NULL,
  `python_env_id` int(11) DEFAULT NULL,
  `creation_status` tinyint(1) NOT NULL DEFAULT '0',
  `online_feature_store_available` tinyint(1) NOT NULL DEFAULT '1',
  PRIMARY KEY (`id`),
  UNIQUE KEY `projectname` (`projectname`),
  KEY `user_idx` (`username`),
  CONSTRAINT `FK_262_290` FOREIGN KEY (`username`) REFERENCES `users` (`email`) ON DELETE NO ACTION ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs;

CREATE TABLE IF NOT EXISTS `project_team` (
  `project_id` int(11) NOT NULL,
  `team_member` varchar(150) COLLATE latin1_general_cs NOT NULL,
  `team_role` varchar(32) COLLATE latin1_general_cs NOT NULL,
  `added` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`project_id`,`team_member`), KEY `team_member` (`team_member`),
  CONSTRAINT `FK_262_304` FOREIGN KEY (`team_member`) REFERENCES `users` (`email`) ON DELETE CASCADE ON UPDATE NO ACTION,
  CONSTRAINT `FK_284_303` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs;

CREATE TABLE IF NOT EXISTS `conda_commands` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) NOT NULL,
  `op` varchar(52) COLLATE latin1_general_cs NOT NULL,
  `channel_url` varchar(255) COLLATE latin1_general_cs DEFAULT NULL,
  `arg` varchar(11000) COLLATE latin1_general_cs DEFAULT NULL,
  `lib` varchar(255) COLLATE latin1_general_cs DEFAULT NULL,
  `version` varchar(52) COLLATE latin1_general_cs DEFAULT NULL,
  `status` varchar(52) COLLATE latin1_general_cs NOT NULL,
  `created` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `install_type` varchar(52) COLLATE latin1_general_cs DEFAULT NULL,
  `environment_file` varchar(1000) COLLATE latin1_general_cs DEFAULT NULL,
  `custom_commands_file` varchar(255) COLLATE latin1_general_cs DEFAULT NULL,
  `install_jupyter` tinyint(1) NOT NULL DEFAULT '0',
  `git_api_key_name` VARCHAR(125) DEFAULT NULL,
  `git_backend` VARCHAR(45) DEFAULT NULL,
  `user_id` int(11) NOT NULL,
  `error_message` VARCHAR(10000) COLLATE latin1_general_cs DEFAULT NULL,
  PRIMARY KEY (`id`), KEY `project_id` (`project_id`),
  CONSTRAINT `user_fk_conda` FOREIGN KEY (`user_id`) REFERENCES `users` (`uid`) ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs;
-- conda_commands has no foreign key to project (dropped in 2.1.0): REMOVE rows outlive the project.

CREATE TABLE IF NOT EXISTS `python_environment` (
  `id` int(11) NOT NULL AUTO_INCREMENT, `project_id` int(11) NOT NULL,
  `python_version` VARCHAR(25) COLLATE latin1_general_cs NOT NULL,
  `jupyter_conflicts` TINYINT(1) NOT NULL DEFAULT '0',
  `conflicts` VARCHAR(12000) COLLATE latin1_general_cs DEFAULT NULL,
  UNIQUE KEY `project_env` (`project_id`), PRIMARY KEY (`id`),
  CONSTRAINT `FK_PYTHONENV_PROJECT` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_cs;
