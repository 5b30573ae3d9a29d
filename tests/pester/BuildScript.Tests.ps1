# build.ps1's own contract: named tasks with synopses, and a clear refusal of unknown ones.

BeforeAll {
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:Build = Join-Path $env:QEMUGUEST_REPO_ROOT 'build.ps1'
}

Describe 'build.ps1' {
    It 'lists every task with a one-line synopsis' {
        $out = @(& $Pwsh -NoProfile -NonInteractive -File $Build Help)
        $LASTEXITCODE | Should -Be 0
        foreach ($task in 'Build', 'Test', 'Package', 'Demo', 'Bench') {
            ($out -match "^\s+$task\s+\S") | Should -Not -BeNullOrEmpty -Because "task $task needs a synopsis line"
        }
    }

    It 'refuses an unknown task with the task list and a non-zero exit code' {
        $err = & $Pwsh -NoProfile -NonInteractive -File $Build 'Deploy-To-Mars' 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 2
        $err | Should -Match "unknown task 'Deploy-To-Mars'"
        $err | Should -Match 'Tasks: .*Build.*Package.*Test'
    }
}

BeforeDiscovery {
    # -Skip is decided at discovery: where there is no dpkg there is nothing to compare with.
    $script:OnDebian = $IsLinux -and [bool] (Get-Command dpkg-query -CommandType Application -ErrorAction SilentlyContinue)
}

Describe 'Prerequisite detection (tools/Prerequisites.psm1)' {
    BeforeAll {
        Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/Prerequisites.psm1') -Force
    }

    It 'reads every state dpkg reports, and only "installed" as installed' {
        ConvertFrom-DpkgStatus -Text 'installed' -ExitCode 0 | Should -Be 'installed'
        foreach ($state in 'not-installed', 'config-files', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending') {
            ConvertFrom-DpkgStatus -Text $state -ExitCode 0 | Should -Be $state
        }
        # dpkg-query on a package it never heard of: exit 1, nothing on stdout.
        ConvertFrom-DpkgStatus -Text '' -ExitCode 1 | Should -Be 'not-installed'
        ConvertFrom-DpkgStatus -Text $null -ExitCode 1 | Should -Be 'not-installed'
        ConvertFrom-DpkgStatus -Text '' -ExitCode 0 | Should -Be 'not-installed'
        ConvertFrom-DpkgStatus -Text 'installed' -ExitCode 1 | Should -Be 'not-installed'
        ConvertFrom-DpkgStatus -Text 'some-future-state' -ExitCode 0 | Should -Be 'not-installed'
    }

    It 'takes a package dpkg never heard of for not installed' -Skip:(-not $OnDebian) {
        Get-DebianPackageState 'qemuguest-no-such-package-7f3a' | Should -Be 'not-installed'
        $row = [pscustomobject]@{ Tool = 'qg-none'; Path = '/nonexistent/qg-none'; Package = 'qemuguest-no-such-package-7f3a'; Tasks = @('X'); Why = 'test' }
        ($row | Test-Prerequisite).Present | Should -BeFalse
    }

    It 'agrees with the machine for every tool a task needs' -Skip:(-not $OnDebian) {
        # build.ps1 Test installed these before this suite ran; an honest second opinion
        # (dpkg -s's Status line, the file itself) must say the same as the build's detection.
        foreach ($row in Get-Prerequisite) {
            $detected = $row | Test-Prerequisite
            $status = (& dpkg -s $row.Package 2>$null | Where-Object { $_ -like 'Status:*' }) -join ''
            $dpkgSaysInstalled = $LASTEXITCODE -eq 0 -and $status -match '^Status: \S+ ok installed$'
            $detected.Present | Should -Be ($dpkgSaysInstalled -and (Test-Path -LiteralPath $row.Path -PathType Leaf)) -Because "$($row.Tool) from $($row.Package): dpkg says '$status'"
        }
    }

    It 'finds every tool of the Test task present and runnable after build.ps1 Test installed them' -Skip:(-not $OnDebian) {
        foreach ($row in Get-Prerequisite Test) {
            ($row | Test-Prerequisite).Present | Should -BeTrue -Because "$($row.Tool) ($($row.Package)) is a Test prerequisite"
        }
        # Each one runs, so a present-but-broken install is not taken for a working one.
        & /usr/sbin/qemu-ga -V | Out-String | Should -Match 'QEMU Guest Agent'
        & /usr/bin/socat -V | Out-String | Should -Match 'socat version'
        & /usr/bin/qemu-system-x86_64 --version | Out-String | Should -Match 'QEMU emulator version'
        & /usr/bin/xz --version | Out-String | Should -Match 'xz \(XZ Utils\)'
        & /usr/bin/systemd-socket-activate --version | Out-String | Should -Match 'systemd'
        (& /usr/sbin/sshd -V 2>&1 | Out-String) | Should -Match 'OpenSSH'
    }

    It 'stops with one line naming what is missing and how to get it' {
        $row = [pscustomobject]@{ Tool = 'qg-none'; Path = '/nonexistent/qg-none'; Package = 'qemuguest-no-such-package-7f3a'; Tasks = @('X'); Why = 'test' }
        $message = $null
        try { Install-Prerequisite -Task Test -Rows @($row) -NoInstall } catch { $message = $_.Exception.Message }
        $message | Should -Not -BeNullOrEmpty
        $message | Should -Not -Match "`n"
        $message | Should -Match 'missing prerequisites for Test: qg-none \(/nonexistent/qg-none, Debian package qemuguest-no-such-package-7f3a'
        $message | Should -Match 'apt-get install --no-install-recommends qemuguest-no-such-package-7f3a$'
    }

    It 'installs nothing for the local demo, and no sshd for any demo' {
        @(Get-Prerequisite Demo).Count | Should -Be 0
        { Install-Prerequisite -Task Demo -NoInstall } | Should -Not -Throw
        (Get-Prerequisite 'Demo -VM').Package | Should -Not -Contain 'openssh-server'
    }

    It 'is what the README says each task installs' {
        # README: one table row per task, "| task | packages |" with the packages in backticks.
        $readme = Get-Content (Join-Path $env:QEMUGUEST_REPO_ROOT 'README.md')
        foreach ($task in 'Test', 'Demo', 'Demo -VM', 'Bench', 'Bench -BenchArea vm', 'Fuzz') {
            $line = $readme | Where-Object { $_ -match "^\| $([regex]::Escape($task)) \|" } | Select-Object -First 1
            $line | Should -Not -BeNullOrEmpty -Because "README.md needs a prerequisites row for $task"
            $named = @([regex]::Matches(($line -split '\|')[2], '`([^`]+)`') | ForEach-Object { $_.Groups[1].Value } | Sort-Object)
            ($named -join ' ') | Should -Be ((@(Get-Prerequisite $task | ForEach-Object Package | Sort-Object -Unique)) -join ' ') -Because "README row for $task"
        }
    }
}
