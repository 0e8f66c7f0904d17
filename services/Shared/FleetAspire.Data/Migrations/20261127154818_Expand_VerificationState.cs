using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// Stored verification summaries with their change-log position (incremental verification), and a narrower
    /// snapshot capture. Transition-only objects, dropped by the contract.
    /// </summary>
    public partial class Expand_VerificationState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(MachineTransitionSql.VerificationState);
            migrationBuilder.Sql(MachineTransitionSql.NarrowSnapshotCapture);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(MachineTransitionSql.WidenSnapshotCapture);
            migrationBuilder.Sql(MachineTransitionSql.DropVerificationState);
        }
    }
}
