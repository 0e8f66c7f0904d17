using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// Indexes on the expand phase's relation columns of live tables, built CONCURRENTLY so writers never wait.
    /// Each runs outside a transaction, and each step is idempotent: an index an interrupted run left behind (possibly
    /// INVALID) is dropped and rebuilt, so re-running after a crash converges.
    /// </summary>
    public partial class Expand_IndexMachineRelations : Migration
    {
        private static readonly (string Name, string Definition)[] Indexes =
        [
            ("ix_agents_machine_ref", "CREATE UNIQUE INDEX CONCURRENTLY ix_agents_machine_ref ON agents (machine_ref)"),
            ("ix_machine_snapshots_machine_ref", "CREATE INDEX CONCURRENTLY ix_machine_snapshots_machine_ref ON machine_snapshots (machine_ref)"),
            ("ix_machine_health_checks_machine_ref", "CREATE INDEX CONCURRENTLY ix_machine_health_checks_machine_ref ON machine_health_checks (machine_ref)"),
            // Transition-only: the backfill's duplicate-address check; dropped with the column by the contract.
            ("ix_agents_machine_ipv4", "CREATE INDEX CONCURRENTLY ix_agents_machine_ipv4 ON agents (machine_ipv4)"),
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET lock_timeout = '2s';", suppressTransaction: true);
            foreach (var (name, definition) in Indexes)
            {
                migrationBuilder.Sql($"DROP INDEX CONCURRENTLY IF EXISTS {name};", suppressTransaction: true);
                migrationBuilder.Sql(definition + ";", suppressTransaction: true);
            }

            migrationBuilder.Sql("RESET lock_timeout;", suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var (name, _) in Indexes)
            {
                migrationBuilder.Sql($"DROP INDEX CONCURRENTLY IF EXISTS {name};", suppressTransaction: true);
            }
        }
    }
}
