using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// Dirty rows as operators handle them (ADR 0016): the <c>quarantined</c> flag every comparison reads, an index for
    /// keyset paging by class, the audit of bulk resolutions — and the dual-write function re-created, since the
    /// backfill's statements it runs now judge every row they read (nothing left out unreported).
    /// </summary>
    public partial class Expand_DirtyRowHandling : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(MachineTransitionSql.DirtyRowQuarantine);
            migrationBuilder.Sql(DualWriteFunctionSql.Definition);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(MachineTransitionSql.DropDirtyRowQuarantine);
    }
}
