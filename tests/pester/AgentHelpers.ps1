# The one way a suite gets a live agent and a session on it: dot-source this file inside
# BeforeAll, after importing tools/LocalAgent.psm1 and the module under test.
#
#     $script:Agent, $script:S = Start-AgentSession -Kind Stock -Name 'pester-x'
#     ...
#     Stop-AgentSession $Agent -AllSessions
#
# Kinds: Stock (Debian's qemu-ga), Ours, Hostile (the hostile agent program; -Mode, and its
# ModeFile to change the mode between requests), Wine (our Windows agent under Wine: Start-WineAgent).
#
# Also the suites' one copy of: Wait-Until (bounded polling), Wait-ProcessGone, the guest pwsh
# launcher of the PowerShell Direct suites, and a console host driven through standard input
# (Start-ConsoleHost, Wait-ConsoleLine, Send-ConsoleInterrupt, Stop-ConsoleHost).

function Start-AgentSession {
    # Returns the agent (Start-LocalAgent's object) and the session, in that order. When the
    # session cannot be opened the agent is stopped again, so a failing BeforeAll leaves no
    # process behind.
    param(
        [ValidateSet('Stock', 'Ours', 'Hostile', 'Wine')] [string] $Kind = 'Stock',
        [Parameter(Mandatory)] [string] $Name,
        [string[]] $ExtraArguments = @(),
        [int] $ConnectTimeoutSec,
        [string] $Mode = 'normal',
        [switch] $WithoutFileCapabilities
    )
    $agent = Start-LocalAgent -Kind $Kind -ExtraArguments $ExtraArguments -Mode $Mode -WithoutFileCapabilities:$WithoutFileCapabilities
    $open = @{ ConnectionString = $agent.ConnectionString; Name = $Name; ErrorAction = 'Stop' }
    if ($PSBoundParameters.ContainsKey('ConnectTimeoutSec')) { $open.ConnectTimeoutSec = $ConnectTimeoutSec }
    try {
        $session = New-VMGuestSession @open
    }
    catch {
        $agent | Stop-LocalAgent
        throw
    }
    $agent
    $session
}

function Stop-AgentSession {
    # Closes the session (-AllSessions: every open one, for suites that open more on the same
    # agent), then stops the agent.
    param($Agent, $Session, [switch] $AllSessions)
    if ($AllSessions) {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }
    elseif ($Session) {
        $Session | Remove-VMGuestSession -Confirm:$false
    }
    if ($Agent) { $Agent | Stop-LocalAgent }
}

function Wait-Until {
    # Polls $Condition until it is true: $true, or $false after $Seconds. With -What it returns
    # nothing and a time out throws instead, naming what did not happen.
    param([scriptblock] $Condition, [int] $Seconds = 60, [string] $What)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -gt $deadline) {
            if ($What) { throw "timed out: $What within $Seconds s" }
            return $false
        }
        Start-Sleep -Milliseconds 200
    }
    if (-not $What) { $true }
}

function Wait-ProcessGone {
    # Waits (bounded) for process $Id to be gone from /proc; on time out fails naming what is
    # left of it (state, parent, command line), so a flake under load says what it was.
    param([int] $Id, [string] $What = 'process', [int] $Seconds = 180)
    if (Wait-Until { -not (Test-Path "/proc/$Id") } $Seconds) { return }
    $status = Get-Content "/proc/$Id/status" -ErrorAction SilentlyContinue
    $left = @($status -match '^(Name|State|PPid|VmRSS):') -join ', '
    $cmd = (Get-Content "/proc/$Id/cmdline" -Raw -ErrorAction SilentlyContinue) -replace "`0", ' '
    throw "$What (pid $Id) is still there after $Seconds s: $left; command line: $cmd"
}

function New-GuestPwshLauncher {
    # The guest's PowerShell for the PowerShell Direct suites: this repository's pwsh (pwsh.dll
    # in $PSHOME, a dotnet tool) behind a two-line launcher the agent can exec. Returns the
    # launcher's path in a new private folder (its parent, to remove afterwards).
    param([string] $Prefix = 'qg-psguest-')
    $dir = Join-Path ([IO.Path]::GetTempPath()) ($Prefix + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $dir
    $launcher = Join-Path $dir 'pwsh'
    "#!/bin/sh`nexec '$(Get-DotnetPath)' '$(Join-Path $PSHOME 'pwsh.dll')' `"`$@`"`n" | Set-Content -Path $launcher -NoNewline
    & chmod 755 $launcher
    $launcher
}

function Invoke-ChildPwsh {
    # Runs $Script in a child pwsh (so its memory and a hang are its own) and returns what it
    # printed. A child that outlives $Seconds is killed with its children and the test fails with
    # its output: a thread job's timeout would leave the child running on.
    param([string] $Script, [int] $Seconds = 120)
    $psi = [Diagnostics.ProcessStartInfo]::new((Get-DotnetPath))
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($Script))
    foreach ($a in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $child = [Diagnostics.Process]::Start($psi)
    $out = $child.StandardOutput.ReadToEndAsync()
    $err = $child.StandardError.ReadToEndAsync()
    if (-not $child.WaitForExit($Seconds * 1000)) {
        $child.Kill($true)
        $null = $child.WaitForExit(10000)
        throw "child pwsh (pid $($child.Id)) did not end within $Seconds s and was killed; it printed: $($out.Result) $($err.Result)"
    }
    $child.WaitForExit()
    $out.Result -split "`n" | Where-Object { $_ -ne '' }
}

function Get-DotnetPath {
    (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
}

# A console host (pwsh reading its commands, one pipeline a line, from standard input), so that a
# test drives PowerShell's own console loop and a hang stays in that child: every wait on it is
# bounded, and on time out the child is killed and the test fails with everything it printed.
function Start-ConsoleHost {
    param([string[]] $Lines, [switch] $CloseInput)
    # A shell without job control starts background commands with SIGINT ignored (CI runs the
    # suites so), children inherit that, and .NET then installs no Ctrl+C handler: such a console
    # host cannot be stopped with Ctrl+C at all. env (coreutils 8.31+) restores the default
    # before it execs, so the pid is the console host's.
    $psi = [Diagnostics.ProcessStartInfo]::new('/usr/bin/env')
    foreach ($a in '--default-signal=INT', (Get-DotnetPath), (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-Command', '-') { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [Diagnostics.Process]::Start($psi)
    foreach ($l in $Lines) { $p.StandardInput.WriteLine($l) }
    $p.StandardInput.Flush()
    if ($CloseInput) { $p.StandardInput.Close() }
    # Reads are polled from this thread (no event handlers: a script block run on a thread-pool
    # thread would need this runspace, which is busy waiting).
    [pscustomobject]@{ Process = $p; Output = [Collections.Generic.List[string]]::new(); Out = $p.StandardOutput.ReadLineAsync(); Err = $p.StandardError.ReadLineAsync() }
}

function Receive-ConsoleOutput($Console) {
    while ($Console.Out -and $Console.Out.IsCompleted) {
        if ($null -eq $Console.Out.Result) { $Console.Out = $null; break }
        # The console host sets the terminal's cursor-key mode before each prompt.
        $Console.Output.Add(($Console.Out.Result -replace '\e\[[0-9;?]*[A-Za-z]', ''))
        $Console.Out = $Console.Process.StandardOutput.ReadLineAsync()
    }
    while ($Console.Err -and $Console.Err.IsCompleted) {
        if ($null -eq $Console.Err.Result) { $Console.Err = $null; break }
        $Console.Output.Add('stderr: ' + $Console.Err.Result)
        $Console.Err = $Console.Process.StandardError.ReadLineAsync()
    }
}

function Wait-ConsoleLine {
    # The first output line matching $Pattern, or a failure naming what the child printed.
    param($Console, [string] $Pattern, [int] $Seconds = 120)
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        Receive-ConsoleOutput $Console
        $hit = @($Console.Output.ToArray() -match $Pattern)
        if ($hit.Count) { return $hit[0] }
        if ($Console.Process.HasExited -and -not $Console.Out -and -not $Console.Err) { break }
        Start-Sleep -Milliseconds 200
    }
    $text = $Console.Output.ToArray() -join "`n"
    if (-not $Console.Process.HasExited) { $Console.Process.Kill($true) }
    throw "no line matching '$Pattern' within $Seconds s (child exited: $($Console.Process.HasExited)); it printed:`n$text"
}

function Send-ConsoleInterrupt($Console) {
    # Ctrl+C as a terminal sends it; first the proof that the console host handles SIGINT (.NET
    # catches it only when it was not ignored at start), else the stop cannot happen.
    $status = Get-Content "/proc/$($Console.Process.Id)/status" -Raw
    $caught = [Convert]::ToUInt64(($status -replace '(?s).*\nSigCgt:\s*([0-9a-f]+).*', '$1'), 16)
    if (-not ($caught -band 2)) {
        throw "the console host $($Console.Process.Id) does not catch SIGINT; its signal masks:`n$(@($status -split "`n" -match '^Sig') -join "`n")"
    }
    & kill -INT $Console.Process.Id
}

function Stop-ConsoleHost {
    # Closes the console host's input and waits (bounded) for it to end; fails with what it
    # printed if it does not, or if it wrote to standard error.
    param($Console, [int] $Seconds = 60)
    try { $Console.Process.StandardInput.Close() } catch [System.IO.IOException] { }
    $ended = $Console.Process.WaitForExit($Seconds * 1000)
    if (-not $ended) { $Console.Process.Kill($true) }
    $Console.Process.WaitForExit()
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    do { Start-Sleep -Milliseconds 100; Receive-ConsoleOutput $Console } while (($Console.Out -or $Console.Err) -and [DateTime]::UtcNow -lt $deadline)
    $text = $Console.Output.ToArray() -join "`n"
    if (-not $ended) { throw "the console host $($Console.Process.Id) did not end within $Seconds s of its input ending; it printed:`n$text" }
    $errors = @($Console.Output.ToArray() -match '^stderr: ')
    if ($errors.Count) { throw "the console host $($Console.Process.Id) wrote to standard error:`n$text" }
}
