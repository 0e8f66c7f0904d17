using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace FleetAspire.Data.SteadyMigrations.Migrations
{
    /// <summary>
    /// The fleet's schema as a fresh database gets it once the machine migration is over: the Machine model, agents
    /// related to it by <c>machine_id</c>, snapshots and health checks by a required <c>machine_ref</c>, the outbox,
    /// the pool's settings. Made from the steady build's model; a test pins it to what legacy → expand → contract
    /// leaves (ADR 0022).
    /// </summary>
    public partial class Steady_Baseline : Migration
    {
        /// <summary>
        /// The one id derivation (a copy frozen here, as a migration is: the expand migrations created the same
        /// function, and the schema-equality test compares the two).
        /// </summary>
        private const string IdDerivationFunction = """
            CREATE OR REPLACE FUNCTION fleet_machine_id(machine_type text, legacy_id text) RETURNS text
            -- Not STRICT (a null legacy id gives null anyway): PostgreSQL inlines it, so joins on it use the primary key.
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
                SELECT CASE machine_type
                    WHEN 'hetzner' THEN 'mh_' || legacy_id
                    WHEN 'custom' THEN 'mc_' || legacy_id
                END
            $$;
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // gen_random_bytes(): a retired machine's shared key is overwritten with random bytes (MachineRetirement).
            migrationBuilder.Sql("CREATE EXTENSION IF NOT EXISTS pgcrypto;");
            migrationBuilder.Sql(IdDerivationFunction);

            migrationBuilder.CreateTable(
                name: "machine_heartbeat_clocks",
                columns: table => new
                {
                    machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    last_timestamp = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_heartbeat_clocks", x => x.machine_id);
                });

            migrationBuilder.CreateTable(
                name: "machines",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: false),
                    type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    hetzner_machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    ipv4 = table.Column<string>(type: "character varying(15)", maxLength: 15, nullable: false),
                    shared_key = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    port = table.Column<int>(type: "integer", nullable: false, defaultValue: 8911),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false, defaultValue: "offline"),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    os = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    arch = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    cpu_count = table.Column<int>(type: "integer", nullable: true),
                    memory_gb = table.Column<int>(type: "integer", nullable: true),
                    last_seen_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    legacy_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machines", x => x.id);
                    table.CheckConstraint("ck_machines_port", "port BETWEEN 1 AND 65535");
                    table.CheckConstraint("ck_machines_status", "status IN ('launching', 'ready', 'in_use', 'offline', 'destroyed')");
                    table.CheckConstraint("ck_machines_type", "type IN ('hetzner', 'custom')");
                });

            migrationBuilder.CreateTable(
                name: "outbox_messages",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    message_id = table.Column<Guid>(type: "uuid", nullable: false),
                    aggregate_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    message_type = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    payload = table.Column<string>(type: "jsonb", nullable: false),
                    trace_parent = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    sent_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    last_error = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true),
                    parked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_outbox_messages", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "pool_settings",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    target_size = table.Column<int>(type: "integer", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_by = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_pool_settings", x => x.id);
                    table.CheckConstraint("ck_pool_settings_singleton", "id = 1");
                });

            migrationBuilder.CreateTable(
                name: "agents",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    machine_id = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agents", x => x.id);
                    table.ForeignKey(
                        name: "fk_agents_machines_machine_id",
                        column: x => x.machine_id,
                        principalTable: "machines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateTable(
                name: "machine_health_checks",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    agent_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    latency_ms = table.Column<int>(type: "integer", nullable: true),
                    checked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    machine_ref = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_health_checks", x => x.id);
                    table.ForeignKey(
                        name: "fk_machine_health_checks_machines_machine_ref",
                        column: x => x.machine_ref,
                        principalTable: "machines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "machine_snapshots",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    provider_image_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    size_bytes = table.Column<long>(type: "bigint", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    agent_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    is_final = table.Column<bool>(type: "boolean", nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    machine_ref = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_snapshots", x => x.id);
                    table.ForeignKey(
                        name: "fk_machine_snapshots_machines_machine_ref",
                        column: x => x.machine_ref,
                        principalTable: "machines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.InsertData(
                table: "pool_settings",
                columns: new[] { "id", "target_size", "updated_at", "updated_by" },
                values: new object[] { 1, 0, new DateTimeOffset(new DateTime(1970, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null });

            migrationBuilder.CreateIndex(
                name: "ix_agents_machine_id",
                table: "agents",
                column: "machine_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_agents_user_id_id",
                table: "agents",
                columns: new[] { "user_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_machine_health_checks_checked_at",
                table: "machine_health_checks",
                column: "checked_at");

            migrationBuilder.CreateIndex(
                name: "ix_machine_health_checks_machine_id_checked_at",
                table: "machine_health_checks",
                columns: new[] { "machine_id", "checked_at" });

            migrationBuilder.CreateIndex(
                name: "ix_machine_health_checks_machine_ref",
                table: "machine_health_checks",
                column: "machine_ref");

            migrationBuilder.CreateIndex(
                name: "ix_machine_snapshots_machine_id_created_at",
                table: "machine_snapshots",
                columns: new[] { "machine_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_machine_snapshots_machine_ref",
                table: "machine_snapshots",
                column: "machine_ref");

            migrationBuilder.CreateIndex(
                name: "ix_machine_snapshots_user_id_id",
                table: "machine_snapshots",
                columns: new[] { "user_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ux_machine_snapshots_final_per_agent",
                table: "machine_snapshots",
                column: "agent_id",
                unique: true,
                filter: "is_final");

            migrationBuilder.CreateIndex(
                name: "ix_machines_pool_ready",
                table: "machines",
                columns: new[] { "created_at", "id" },
                filter: "type = 'hetzner' AND status = 'ready'");

            migrationBuilder.CreateIndex(
                name: "ix_machines_status",
                table: "machines",
                column: "status");

            migrationBuilder.CreateIndex(
                name: "ix_machines_type",
                table: "machines",
                column: "type");

            migrationBuilder.CreateIndex(
                name: "ix_machines_type_legacy_id",
                table: "machines",
                columns: new[] { "type", "legacy_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_machines_user_id",
                table: "machines",
                column: "user_id");

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_message_id",
                table: "outbox_messages",
                column: "message_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_parked",
                table: "outbox_messages",
                column: "id",
                filter: "parked_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_unsent",
                table: "outbox_messages",
                column: "id",
                filter: "sent_at IS NULL AND parked_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agents");

            migrationBuilder.DropTable(
                name: "machine_health_checks");

            migrationBuilder.DropTable(
                name: "machine_heartbeat_clocks");

            migrationBuilder.DropTable(
                name: "machine_snapshots");

            migrationBuilder.DropTable(
                name: "outbox_messages");

            migrationBuilder.DropTable(
                name: "pool_settings");

            migrationBuilder.DropTable(
                name: "machines");

            migrationBuilder.Sql("DROP FUNCTION IF EXISTS fleet_machine_id(text, text);");
        }
    }
}
