using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <inheritdoc />
    public partial class Expand_AddMachineTable : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Expand phase: additive only. Old code keeps running untouched while this applies (docs/adr/0009).
            // Every lock is bounded: a writer is never queued behind this migration for more than 2 s.
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");

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
                    table.CheckConstraint("ck_machines_status", "status IN ('launching', 'ready', 'in_use', 'offline')");
                    table.CheckConstraint("ck_machines_type", "type IN ('hetzner', 'custom')");
                });

            // The table is new and empty: its indexes are built inside the transaction.
            migrationBuilder.CreateIndex(name: "ix_machines_status", table: "machines", column: "status");
            migrationBuilder.CreateIndex(name: "ix_machines_type", table: "machines", column: "type");
            migrationBuilder.CreateIndex(name: "ix_machines_type_legacy_id", table: "machines", columns: new[] { "type", "legacy_id" }, unique: true);
            migrationBuilder.CreateIndex(name: "ix_machines_user_id", table: "machines", column: "user_id");

            // Nullable columns without defaults: catalog-only changes, no table rewrite.
            migrationBuilder.Sql("ALTER TABLE agents ADD COLUMN machine_ref character varying(80);");
            migrationBuilder.Sql("ALTER TABLE machine_snapshots ADD COLUMN machine_ref character varying(80);");
            migrationBuilder.Sql("ALTER TABLE machine_health_checks ADD COLUMN machine_ref character varying(80);");
            // NOT VALID: the constraint guards new writes at once; existing rows are validated by the contract.
            migrationBuilder.Sql("""
                ALTER TABLE agents ADD CONSTRAINT fk_agents_machines_machine_ref FOREIGN KEY (machine_ref)
                    REFERENCES machines (id) ON DELETE SET NULL NOT VALID;
                """);

            migrationBuilder.Sql(MachineTransitionSql.IdDerivationFunction);
            migrationBuilder.Sql(MachineTransitionSql.ChangeCapture);
            // The indexes of the new columns on live tables follow in Expand_IndexMachineRelations (concurrently).
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(MachineTransitionSql.DropChangeCapture);
            migrationBuilder.Sql(MachineTransitionSql.DropIdDerivationFunction);
            migrationBuilder.Sql("ALTER TABLE agents DROP CONSTRAINT IF EXISTS fk_agents_machines_machine_ref;");
            migrationBuilder.Sql("ALTER TABLE agents DROP COLUMN IF EXISTS machine_ref;");
            migrationBuilder.Sql("ALTER TABLE machine_snapshots DROP COLUMN IF EXISTS machine_ref;");
            migrationBuilder.Sql("ALTER TABLE machine_health_checks DROP COLUMN IF EXISTS machine_ref;");
            migrationBuilder.DropTable(name: "machines");
        }
    }
}
