using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// Writes from outside this build (no writer in the change log) by time: the MachineRead gate asks whether old code
    /// wrote recently. Built CONCURRENTLY (the change log is live and large), idempotently. Dropped by the contract.
    /// </summary>
    public partial class Expand_OldCodeIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET lock_timeout = '2s';", suppressTransaction: true);
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_legacy_changes_untagged;", suppressTransaction: true);
            migrationBuilder.Sql("CREATE INDEX CONCURRENTLY ix_legacy_changes_untagged ON legacy_changes (changed_at) WHERE writer IS NULL;",
                suppressTransaction: true);
            migrationBuilder.Sql("RESET lock_timeout;", suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_legacy_changes_untagged;", suppressTransaction: true);
    }
}
