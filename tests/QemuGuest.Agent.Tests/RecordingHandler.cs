using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;
using QemuGuest.Tests.Shared;

namespace QemuGuest.Agent.Tests;

/// <summary>An <see cref="IQgaCommandHandler"/> made at run time: every command is refused once its arguments were read.</summary>
public class RecordingHandler : DispatchProxy
{
    public const string Refusal = "refused by the property test";

    public static IQgaCommandHandler Create() => DispatchProxy.Create<IQgaCommandHandler, RecordingHandler>();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        Type type = targetMethod!.ReturnType;
        var error = new AgentCommandException(Refusal);
        if (type == typeof(ValueTask))
        {
            return ValueTask.FromException(error);
        }

        return typeof(ValueTask).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == nameof(ValueTask.FromException) && m.IsGenericMethodDefinition)
            .MakeGenericMethod(type.GetGenericArguments()[0])
            .Invoke(null, new object[] { error });
    }
}
