using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// The dual-write at commit: <c>fleet_sync_own_transaction()</c>, built from the backfill's statements, run once
    /// per dual-writing transaction by a deferred constraint trigger on <c>legacy_changes</c>. A test compares the
    /// deployed bodies with <c>MachineSync</c> (MachineTransition/DualWrite): changing those statements needs a new migration that re-creates
    /// them. Dropped by the contract.
    /// </summary>
    public partial class Expand_DualWriteFunction : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(DualWriteFunctionSql.Definition);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(DualWriteFunctionSql.Drop);
    }
}
