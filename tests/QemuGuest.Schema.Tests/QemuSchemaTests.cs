using System;
using System.IO;
using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>
/// QEMU's own qga/qapi-schema.json must load unchanged. It is GPL text, so it is not in this
/// repository: point QEMUGUEST_QEMU_QGA_SCHEMA at a copy to run this check (reported as skipped
/// otherwise).
/// </summary>
public class QemuSchemaTests
{
    [FactWhenEnvironment("QEMUGUEST_QEMU_QGA_SCHEMA", "a copy of QEMU's qga/qapi-schema.json")]
    public void QemusQgaSchemaLoadsWhenProvided()
    {
        string path = Environment.GetEnvironmentVariable("QEMUGUEST_QEMU_QGA_SCHEMA")!;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var schema = SchemaLoader.Load(Path.GetFileName(path), p =>
        {
            string full = Path.Combine(dir, p);
            return File.Exists(full) ? File.ReadAllText(full) : null;
        });
        Assert.Contains(schema.Commands, c => c.Name == "guest-sync-delimited");
        Assert.Contains(schema.Commands, c => c.Name == "guest-file-seek");
        var exec = schema.Find<QapiCommand>("guest-exec")!;
        Assert.Equal("q_obj_guest-exec-arg", exec.Arguments);
        Assert.NotNull(schema.Find<QapiAlternate>("GuestFileWhence"));
        Console.WriteLine(
            "QEMU qga schema: " + schema.Commands.Count() + " commands, " +
            schema.Entities.Count(e => e is QapiStruct { IsImplicit: false }) + " structs, " +
            schema.Entities.OfType<QapiEnum>().Count() + " enums, " +
            schema.Entities.OfType<QapiUnion>().Count() + " unions, " +
            schema.Entities.OfType<QapiAlternate>().Count() + " alternates");
    }
}
