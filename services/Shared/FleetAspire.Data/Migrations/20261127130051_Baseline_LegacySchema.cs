using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <inheritdoc />
    public partial class Baseline_LegacySchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
                    machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    machine_ipv4 = table.Column<string>(type: "character varying(15)", maxLength: 15, nullable: true),
                    machine_shared_key = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    machine_type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agents", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "custom_machines",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ipv4 = table.Column<string>(type: "character varying(15)", maxLength: 15, nullable: false),
                    port = table.Column<int>(type: "integer", nullable: false, defaultValue: 8911),
                    shared_key = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    user_id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    current_agent_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    os = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    arch = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    cpu_count = table.Column<int>(type: "integer", nullable: true),
                    memory_gb = table.Column<int>(type: "integer", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_custom_machines", x => x.id);
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
                    checked_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_health_checks", x => x.id);
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
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_machine_snapshots", x => x.id);
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
                    last_error = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_outbox_messages", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "parked_machines",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    machine_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    machine_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    ipv4 = table.Column<string>(type: "character varying(15)", maxLength: 15, nullable: true),
                    status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    shared_key = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_parked_machines", x => x.id);
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

            migrationBuilder.InsertData(
                table: "pool_settings",
                columns: new[] { "id", "target_size", "updated_at", "updated_by" },
                values: new object[] { 1, 0, new DateTimeOffset(new DateTime(1970, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)), null });

            migrationBuilder.CreateIndex(
                name: "ix_agents_machine_id",
                table: "agents",
                column: "machine_id");

            migrationBuilder.CreateIndex(
                name: "ix_agents_machine_type",
                table: "agents",
                column: "machine_type");

            migrationBuilder.CreateIndex(
                name: "ix_agents_user_id_id",
                table: "agents",
                columns: new[] { "user_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_custom_machines_current_agent_id",
                table: "custom_machines",
                column: "current_agent_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_custom_machines_user_id_ipv4_port",
                table: "custom_machines",
                columns: new[] { "user_id", "ipv4", "port" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_machine_health_checks_checked_at",
                table: "machine_health_checks",
                column: "checked_at");

            migrationBuilder.CreateIndex(
                name: "ix_machine_health_checks_machine_id_checked_at",
                table: "machine_health_checks",
                columns: new[] { "machine_id", "checked_at" });

            migrationBuilder.CreateIndex(
                name: "ix_machine_snapshots_machine_id_created_at",
                table: "machine_snapshots",
                columns: new[] { "machine_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_message_id",
                table: "outbox_messages",
                column: "message_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_unsent",
                table: "outbox_messages",
                column: "id",
                filter: "sent_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_parked_machines_machine_id",
                table: "parked_machines",
                column: "machine_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_parked_machines_status_created_at",
                table: "parked_machines",
                columns: new[] { "status", "created_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agents");

            migrationBuilder.DropTable(
                name: "custom_machines");

            migrationBuilder.DropTable(
                name: "machine_health_checks");

            migrationBuilder.DropTable(
                name: "machine_snapshots");

            migrationBuilder.DropTable(
                name: "outbox_messages");

            migrationBuilder.DropTable(
                name: "parked_machines");

            migrationBuilder.DropTable(
                name: "pool_settings");
        }
    }
}
