# What each build task needs from the machine, how to tell whether it is there, and how to get
# it. build.ps1 checks a task's prerequisites before running anything, installs what is missing
# through apt-get, and stops with one line naming what is still missing; tests/pester/
# BuildScript.Tests.ps1 checks that this detection agrees with the machine.

Set-StrictMode -Version 3.0

# One row per tool a task runs. A tool counts as present only when its file exists AND dpkg
# says its package is installed: a leftover binary of a removed package, or a package dpkg
# knows but never configured, both lead to an install.
$script:Prerequisites = @(
    [pscustomobject]@{ Tool = 'qemu-ga'; Path = '/usr/sbin/qemu-ga'; Package = 'qemu-guest-agent'; Tasks = @('Test', 'Bench', 'Bench -BenchArea vm', 'Demo -VM')
        Why = "Debian's stock agent: differential tests, the Pester suites, the VM image, benchmarks" }
    [pscustomobject]@{ Tool = 'busybox'; Path = '/bin/busybox'; Package = 'busybox-static'; Tasks = @('Test')
        Why = "a guest's busybox tools for the stock agent's paths (GuestSyncBusyboxTests: busybox's touch takes no fraction of a second)" }
    [pscustomobject]@{ Tool = 'socat'; Path = '/usr/bin/socat'; Package = 'socat'; Tasks = @('Test')
        Why = 'pty bridges for the isa-serial and character-device tests' }
    [pscustomobject]@{ Tool = 'qemu-system-x86_64'; Path = '/usr/bin/qemu-system-x86_64'; Package = 'qemu-system-x86'; Tasks = @('Test', 'Demo -VM', 'Bench -BenchArea vm')
        Why = 'the end-to-end VM (tests/e2e) and Demo -VM' }
    [pscustomobject]@{ Tool = 'sshd'; Path = '/usr/sbin/sshd'; Package = 'openssh-server'; Tasks = @('Test', 'Bench')
        Why = 'a private sshd on loopback for the PowerShell SSH-remoting test and the PowerShell Direct benchmark beside it (no system service is configured)' }
    [pscustomobject]@{ Tool = 'ssh-keygen'; Path = '/usr/bin/ssh-keygen'; Package = 'openssh-client'; Tasks = @('Test', 'Bench')
        Why = 'throw-away keys for that private sshd' }
    [pscustomobject]@{ Tool = 'systemd-socket-activate'; Path = '/usr/bin/systemd-socket-activate'; Package = 'systemd'; Tasks = @('Test')
        Why = "the agent's socket-activation test" }
    [pscustomobject]@{ Tool = 'xz'; Path = '/usr/bin/xz'; Package = 'xz-utils'; Tasks = @('Test', 'Demo -VM', 'Bench -BenchArea vm')
        Why = "the VM image: Debian's kernel modules are xz-compressed" }
    [pscustomobject]@{ Tool = 'python3'; Path = '/usr/bin/python3'; Package = 'python3-minimal'; Tasks = @('Test')
        Why = "the agent-safety race tests: an unprivileged guest user swapping a link in a tight loop (a shell loop forking ln/rm is too slow to hit the window)" }
    [pscustomobject]@{ Tool = 'setpriv'; Path = '/usr/bin/setpriv'; Package = 'util-linux'; Tasks = @('Test')
        Why = 'runs the attacks of those tests as an unprivileged guest user' }
    [pscustomobject]@{ Tool = 'wine64'; Path = '/usr/lib/wine/wine64'; Package = 'wine64'; Tasks = @('Test')
        Why = "the Windows agent under Wine row: Wine's 64-bit loader runs the self-contained win-x64 agent" }
    [pscustomobject]@{ Tool = 'wine'; Path = '/usr/bin/wine'; Package = 'wine'; Tasks = @('Test')
        Why = "Wine's shared files (the prefix's cmd.exe, reg.exe and registry templates) for that row" }
    [pscustomobject]@{ Tool = 'afl-fuzz'; Path = '/usr/bin/afl-fuzz'; Package = 'afl++'; Tasks = @('Fuzz')
        Why = 'the coverage-guided fuzzer' }
)

function Get-Prerequisite {
    <#
    .SYNOPSIS
        The prerequisite rows of one task ('Test', 'Demo', 'Demo -VM', 'Bench', 'Bench -BenchArea vm', 'Fuzz'), or all of them.
    #>
    param([string] $Task)
    if (-not $Task) { return $script:Prerequisites }
    return @($script:Prerequisites | Where-Object { $Task -in $_.Tasks })
}

function ConvertFrom-DpkgStatus {
    <#
    .SYNOPSIS
        Turns what `dpkg-query -W -f '${db:Status-Status}' NAME` printed, and its exit code, into
        one of: installed, not-installed (dpkg never heard of it, or it was removed), config-files,
        half-installed, unpacked, half-configured, triggers-awaited, triggers-pending.
    .DESCRIPTION
        Only 'installed' means usable. An unknown package makes dpkg-query exit 1 and print
        nothing on stdout, which must not read as installed (the bug this replaces compared the
        empty output with -notmatch and so took unknown packages for installed ones).
    #>
    param([AllowNull()] [AllowEmptyString()] [string] $Text, [int] $ExitCode)
    if ($ExitCode -ne 0) { return 'not-installed' }
    $state = "$Text".Trim()
    $known = 'installed', 'not-installed', 'config-files', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending'
    if ($state -in $known) { return $state }
    # Nothing, or a state this dpkg invented later: not something to rely on.
    return 'not-installed'
}

function Get-DebianPackageState {
    <#
    .SYNOPSIS
        dpkg's state of one package (see ConvertFrom-DpkgStatus); 'no-dpkg' where dpkg is absent.
    #>
    param([Parameter(Mandatory)] [string] $Name)
    if (-not (Get-Command dpkg-query -CommandType Application -ErrorAction SilentlyContinue)) { return 'no-dpkg' }
    $text = & dpkg-query -W -f '${db:Status-Status}' $Name 2>$null
    return ConvertFrom-DpkgStatus -Text ($text -join '') -ExitCode $LASTEXITCODE
}

function Test-Prerequisite {
    <#
    .SYNOPSIS
        Each row with State (dpkg's), Exists (the tool's file) and Present (both say yes).
    #>
    param([Parameter(Mandatory, ValueFromPipeline)] [object] $Prerequisite)
    process {
        $state = Get-DebianPackageState $Prerequisite.Package
        $exists = Test-Path -LiteralPath $Prerequisite.Path -PathType Leaf
        # Without dpkg (another distribution) the file alone decides: there is nothing to ask.
        $present = $exists -and ($state -eq 'installed' -or $state -eq 'no-dpkg')
        [pscustomobject]@{
            Tool = $Prerequisite.Tool; Path = $Prerequisite.Path; Package = $Prerequisite.Package
            State = $state; Exists = $exists; Present = $present; Why = $Prerequisite.Why
        }
    }
}

function Format-MissingPrerequisite {
    # One line: what is missing, and the command that gets it.
    param([string] $Task, [object[]] $Missing)
    $what = ($Missing | ForEach-Object { "$($_.Tool) ($($_.Path), Debian package $($_.Package), dpkg: $($_.State))" }) -join '; '
    $packages = ($Missing | ForEach-Object Package | Sort-Object -Unique) -join ' '
    return "missing prerequisites for ${Task}: $what. Install them with: sudo apt-get install --no-install-recommends $packages"
}

function Install-Prerequisite {
    <#
    .SYNOPSIS
        Makes sure a task's tools are present: installs the missing packages through apt-get
        (sudo when not root), then checks again; throws one line naming what is still missing.
    .PARAMETER Rows
        Rows to check instead of the task's (tests pass a row that cannot exist).
    .PARAMETER NoInstall
        Only check; never run apt-get.
    #>
    param(
        [Parameter(Mandatory)] [string] $Task,
        [object[]] $Rows,
        [switch] $NoInstall
    )
    if (-not $PSBoundParameters.ContainsKey('Rows')) { $Rows = Get-Prerequisite $Task }
    # A task that needs nothing gives $null here, and @($null) would be one empty row.
    $Rows = @($Rows | Where-Object { $null -ne $_ })
    if ($Rows.Count -eq 0) { return }
    $missing = @($Rows | Test-Prerequisite | Where-Object { -not $_.Present })
    if ($missing.Count -eq 0) { return }

    $canInstall = -not $NoInstall -and $IsLinux -and (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)
    if ($canInstall) {
        $packages = @($missing | ForEach-Object Package | Sort-Object -Unique)
        Write-Host "==> Installing Debian packages for ${Task}: $($packages -join ', ')" -ForegroundColor Cyan
        $sudo = if ((& id -u) -eq '0') { @() } else { @('sudo', '-n') }
        $env:DEBIAN_FRONTEND = 'noninteractive'
        foreach ($step in @(@('apt-get', 'update', '-qq'), (@('apt-get', 'install', '-y', '-qq', '--no-install-recommends') + $packages))) {
            $command = $sudo + $step
            & $command[0] @($command | Select-Object -Skip 1) | Out-Host
            # A failed step is reported by the check below, with the packages it concerns.
            if ($LASTEXITCODE -ne 0) { Write-Host "    $($step[0..1] -join ' ') exited with $LASTEXITCODE" }
        }
        $missing = @($Rows | Test-Prerequisite | Where-Object { -not $_.Present })
        if ($missing.Count -eq 0) { return }
    }
    throw (Format-MissingPrerequisite $Task $missing)
}

Export-ModuleMember -Function Get-Prerequisite, ConvertFrom-DpkgStatus, Get-DebianPackageState, Test-Prerequisite, Install-Prerequisite, Format-MissingPrerequisite
